"""Fixtures: a real migrated SQLite database per test, the app, its client, and helpers to
make campaigns and read pages as a person would."""

import itertools
import os
import shutil
from datetime import timedelta

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from flask_migrate import upgrade
from twilio.request_validator import RequestValidator

from portal import create_app
from portal import passwords
from portal import registration
from portal import tokens
from portal.db import db
from portal.db import utcnow
from portal.models import Campaign
from portal.models import Team
from portal.models import User
from portal.plugin_manager import current_plugins

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "0" * 32


# Set to a PostgreSQL server's URL (tests/postgres.sh start prints one) to run every test on
# PostgreSQL: each test then gets its own database, copied from a migrated template.
POSTGRES_URL = os.environ.get("PORTAL_TEST_POSTGRES_URL", "")
TEMPLATE = "portal_test_template"


def settings(database):
    """Test settings for ``database``: a URL, or the path of an SQLite file."""
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    return {"PORTAL_DATABASE_URL": url, "TESTING": True,
            "PORTAL_SUPPORT_CONTACT": "help@sms.example.gov",
            # Forms are posted without their CSRF token; test_security.py turns it on.
            "WTF_CSRF_ENABLED": False,
            "PORTAL_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PORTAL_TWILIO_ACCOUNT_SID": ACCOUNT_SID}


def _server(url):
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def _database_url(name):
    return sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(
        hide_password=False)


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory):
    """One database built by the real migrations; each test gets a copy of it."""
    if POSTGRES_URL:
        server = _server(POSTGRES_URL)
        with server.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
            connection.exec_driver_sql(f"CREATE DATABASE {TEMPLATE}")
        target = _database_url(TEMPLATE)
    else:
        target = tmp_path_factory.mktemp("template") / "portal.db"
    app = create_app(settings(target))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield target
    if POSTGRES_URL:
        with server.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        server.dispose()


_copies = itertools.count()


@pytest.fixture
def database_url(migrated_database, tmp_path):
    """A fresh copy of the migrated database, for one test."""
    if not POSTGRES_URL:
        path = tmp_path / "portal.db"
        shutil.copy(migrated_database, path)
        yield f"sqlite:///{path}"
        return
    name = f"portal_test_{os.getpid()}_{next(_copies)}"
    server = _server(POSTGRES_URL)
    with server.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    yield _database_url(name)
    with server.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    server.dispose()


@pytest.fixture
def make_app(database_url):
    """make_app(**settings) → an app on this test's database with settings changed; its
    connections are closed when the test ends."""
    made = []

    def make(**overrides):
        app = create_app({**settings(database_url), **overrides})
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def password_hash():
    """Hashed once: scrypt is slow on purpose."""
    return passwords.hash_password(PASSWORD)


def team_named(name):
    """The team called ``name``, made if there is none yet (inside an app context)."""
    team = db.session.query(Team).filter_by(name=name).one_or_none()
    if team is None:
        team = Team(name=name)
        db.session.add(team)
        db.session.flush()
    return team


def add_user(app, password_hash, email, role="viewer", team="Ops"):
    """A user of ``team`` (made if needed) with ``role``; returns the user's id."""
    with app.app_context():
        team_row = team_named(team)
        user = User(email=email, role=role, team_id=team_row.id,
                    password_hash=password_hash, active=True)
        db.session.add(user)
        db.session.commit()
        return user.id


def signed_in(app, user_id):
    """A test client whose session is that of ``user_id`` after signing in."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"{user_id}.0"  # a user's first session version
        session["_fresh"] = True
        session.permanent = True
    return client


@pytest.fixture
def make_user(app, password_hash):
    """make_user(email, role="viewer", team="Ops") → the user's id."""

    def make(email, role="viewer", team="Ops"):
        return add_user(app, password_hash, email, role, team)

    return make


@pytest.fixture
def client_as(app, make_user):
    """client_as(role, team) → a test client signed in as a new user with that role."""
    made = {}

    def sign_in(role="admin", team="Ops"):
        key = (role, team)
        if key not in made:
            user_id = make_user(f"{role}.{team.lower().replace(' ', '-')}@example.gov",
                                role, team)
            made[key] = signed_in(app, user_id)
        return made[key]

    return sign_in


@pytest.fixture
def client(client_as):
    """A client signed in as an admin of team Ops: sees every page and campaign."""
    return client_as("admin")


@pytest.fixture
def anonymous(app):
    return app.test_client()


def sid(campaign_id, index):
    """The Twilio message id make_campaign gives message ``index`` of a campaign."""
    return f"SM{campaign_id:04d}{index:028x}"


@pytest.fixture
def make_campaign(app):
    """make_campaign(name, [(recipient, provider_status, error_code), …], …) → id."""

    def make(name="Campaign", messages=(), provider="twilio", sent_at=None, team="Ops",
             updated_at=None):
        with app.app_context():
            team_row = team_named(team)
            campaign = Campaign(team_id=team_row.id, name=name, provider=provider,
                                sent_at=sent_at or utcnow() - timedelta(hours=1))
            db.session.add(campaign)
            db.session.flush()
            items = [registration.NewMessage(recipient, sid(campaign.id, index), status, code)
                     for index, (recipient, status, code) in enumerate(messages)]
            plugin = current_plugins().providers()[provider]
            registration.register(db.session.connection(), campaign.id, plugin, "SG", items,
                                  updated_at or utcnow())
            db.session.commit()
            return campaign.id

    return make


@pytest.fixture
def twilio_callback(client):
    """twilio_callback(sid, status, error_code=None, …) posts a callback signed as Twilio
    signs it, over the URL the test client calls."""

    def post(sid, status, error_code=None, url="http://localhost/callbacks/twilio",
             token=AUTH_TOKEN, signature=None, extra=None, path="/callbacks/twilio", **kwargs):
        form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID,
                "To": "+6581234567", "From": "+6580000000", "ApiVersion": "2010-04-01"}
        if error_code:
            form["ErrorCode"] = error_code
        form.update(extra or {})
        form = {key: value for key, value in form.items() if value is not None}
        if signature is None:
            signature = RequestValidator(token).compute_signature(url, form)
        headers = {"X-Twilio-Signature": signature} if signature else {}
        return client.post(path, data=form, headers=headers, **kwargs)

    return post


@pytest.fixture
def api_token(app):
    """api_token(team="Ops") → a bearer token for that team."""

    def make(team="Ops"):
        with app.app_context():
            _, token = tokens.create(db.session, team_named(team), "tests")
            db.session.commit()
            return token

    return make


def count(app, model, *where):
    """How many rows of ``model`` meet every condition in ``where``."""
    with app.app_context():
        query = sa.select(sa.func.count()).select_from(model)
        for condition in where:
            query = query.where(condition)
        return db.session.execute(query).scalar()


def page(response):
    """The response parsed as HTML, after checking it is one."""
    assert response.mimetype == "text/html", response.mimetype
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def text(element):
    return " ".join(element.get_text(" ").split())


HTMX = {"HX-Request": "true"}
