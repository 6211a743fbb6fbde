"""Fixtures: a real migrated SQLite database per test, the app, its client, and helpers to
make campaigns and read pages as a person would."""

import shutil
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from flask_migrate import upgrade

from portal import create_app
from portal import registration
from portal.db import db
from portal.db import utcnow
from portal.models import Campaign
from portal.models import Team
from portal.plugin_manager import current_plugins


def settings(database_path):
    return {"PORTAL_DATABASE_URL": f"sqlite:///{database_path}", "TESTING": True,
            "PORTAL_SUPPORT_CONTACT": "help@sms.example.gov"}


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory):
    """One database built by the real migrations; each test gets a copy of it."""
    path = tmp_path_factory.mktemp("template") / "portal.db"
    app = create_app(settings(path))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


@pytest.fixture
def app(migrated_database, tmp_path):
    path = tmp_path / "portal.db"
    shutil.copy(migrated_database, path)
    app = create_app(settings(path))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_campaign(app):
    """make_campaign(name, [(recipient, provider_status, error_code), …], …) → id."""

    def make(name="Campaign", messages=(), provider="twilio", sent_at=None, team="Ops",
             updated_at=None):
        with app.app_context():
            team_row = db.session.query(Team).filter_by(name=team).one_or_none()
            if team_row is None:
                team_row = Team(name=team)
                db.session.add(team_row)
                db.session.flush()
            campaign = Campaign(team_id=team_row.id, name=name, provider=provider,
                                sent_at=sent_at or utcnow() - timedelta(hours=1))
            db.session.add(campaign)
            db.session.flush()
            items = [registration.NewMessage(recipient, f"SM{campaign.id:04d}{index:028x}",
                                             status, code)
                     for index, (recipient, status, code) in enumerate(messages)]
            plugin = current_plugins().providers()[provider]
            registration.register(db.session.connection(), campaign.id, plugin, "SG", items,
                                  updated_at or utcnow())
            db.session.commit()
            return campaign.id

    return make


def page(response):
    """The response parsed as HTML, after checking it is one."""
    assert response.mimetype == "text/html", response.mimetype
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def text(element):
    return " ".join(element.get_text(" ").split())


HTMX = {"HX-Request": "true"}
