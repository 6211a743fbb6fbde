"""The application factory."""

from pathlib import Path

from flask import Flask
from flask_migrate import Migrate
from htmx_flask import Htmx
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import config
from portal import observability
from portal import security
from portal.db import configure_sqlite
from portal.db import db
from portal.plugin_manager import PluginManager

PACKAGE = Path(__file__).parent
MIGRATIONS = PACKAGE / "migrations"


def _template_folder():
    # Installed, the templates sit inside the package; in a checkout, at the top level.
    inside = PACKAGE / "templates"
    return inside if inside.is_dir() else PACKAGE.parent / "templates"


def create_app(test_config=None, plugins=None):
    """Build the portal. ``test_config`` overrides settings (tests); ``plugins`` is a
    ready PluginManager (tests that register plugins of their own)."""
    # PORTAL_INSTANCE_PATH moves the instance folder (the default database, prepared
    # reports) elsewhere; the browser tests keep theirs apart from a developer's.
    app = Flask(__name__, instance_relative_config=True, instance_path=config.instance_path(),
                template_folder=str(_template_folder()), static_folder="static")
    settings = config.load(instance_path=app.instance_path)
    settings.update(test_config or {})
    app.config.update(settings)
    app.config["SECRET_KEY"] = app.config["PORTAL_SECRET_KEY"]
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["PORTAL_DATABASE_URL"]
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    observability.configure(app.config["PORTAL_LOG_LEVEL"], app.config["PORTAL_LOG_FORMAT"])

    proxies = app.config["PORTAL_TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies,
                                x_port=proxies, x_prefix=proxies)

    db.init_app(app)
    Migrate(app, db, directory=str(MIGRATIONS))
    Htmx(app)
    # Request ids and timing first, so that a request refused by an access rule has them.
    observability.init_app(app)
    security.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)

    app.extensions["portal.plugins"] = plugins or PluginManager()

    from portal import cli
    from portal import views

    views.register(app)
    cli.register(app)
    return app
