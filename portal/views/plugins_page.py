"""The installed plugins, what each implements, and the ones that failed to load."""

from flask import Blueprint
from flask import render_template

from portal import access
from portal.plugin_manager import current_plugins

bp = Blueprint("plugins", __name__)


@bp.get("/plugins")
@access.requires("admin")
def index():
    plugins = current_plugins()
    return render_template("plugins.html", plugins=plugins.plugins(),
                           failures=plugins.failures, exporters=plugins.exporters(),
                           providers=plugins.providers())
