"""The demo data, the migrations, and the status guide rendered from plugin data."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal import counters
from portal import demo
from portal.db import db
from portal.models import Campaign
from portal.models import Message
from tests.conftest import page
from tests.conftest import text


def test_demo_loads_once_with_realistic_data(app, monkeypatch):
    monkeypatch.setattr(demo, "CAMPAIGNS", (
        ("Demo finished", 0, 3000, 5, False), ("Demo in flight", 1, 2000, 0.12, True)))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "Loaded 2 demo campaigns with 5,000 recipients" in first.output
    again = runner.invoke(args=["demo"])
    assert "already loaded" in again.output

    with app.app_context():
        connection = db.session.connection()
        campaigns = db.session.execute(sa.select(Campaign).order_by(Campaign.id)).scalars().all()
        assert [c.name for c in campaigns] == ["Demo finished", "Demo in flight"]
        assert campaigns[0].team_id != campaigns[1].team_id
        for campaign in campaigns:
            assert counters.check(connection, campaign.id) == []
        recipients = db.session.execute(sa.select(Message.recipient, Message.error_code)).all()
        singapore = sum(1 for number, _ in recipients if number.startswith("+65"))
        invalid = sum(1 for _, code in recipients if code == "invalid-number")
        assert 0.85 < singapore / 5000 < 0.97
        assert 0.01 < invalid / 5000 < 0.04
        in_flight = counters.stored(connection, campaigns[1].id)
        assert any(status in ("QUEUED", "SENDING") for status, _, _ in in_flight)
        assert not any(status in ("QUEUED", "SENDING")
                       for status, _, _ in counters.stored(connection, campaigns[0].id))


def test_demo_campaign_size_adds_one_campaign(app):
    result = app.test_cli_runner().invoke(args=["demo", "--campaign-size", "1234"])
    assert "Added campaign 1 with 1,234 recipients" in result.output
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(Message)).scalar() \
            == 1234


def test_migrations_build_the_schema_the_models_describe(app):
    with app.app_context(), db.engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), db.metadata)
    assert differences == []


def test_guide_shows_every_status_kind_and_code(client):
    document = page(client.get("/guide"))
    for status in ("sent", "error", "queued", "sending"):
        assert document.select_one(f"#status-{status}")
    assert "contact help@sms.example.gov" in text(document.select_one("#status-queued"))
    assert len(document.select("tr[id^=kind-]")) == 6
    assert "Remove these numbers" in text(document.select_one("#portal-invalid-number"))
    codes = document.select("#provider-twilio ~ div table.codes tbody tr")
    assert len(codes) == 389
    assert "Unreachable destination handset" in text(document.select_one("#twilio-30003"))
    assert document.select_one("#twilio-status-delivered")
