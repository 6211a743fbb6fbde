"""Rebuilding message states and counts from the status event log."""

import sqlalchemy as sa

from portal import counters
from portal.db import db
from portal.models import CampaignCount
from portal.models import Message
from tests.conftest import sid


def tamper(app, campaign_id, index, **values):
    with app.app_context():
        db.session.execute(sa.update(Message).where(
            Message.provider_message_id == sid(campaign_id, index)).values(**values))
        db.session.commit()


def test_a_consistent_log_rebuilds_to_the_same_state(app, make_campaign, twilio_callback):
    campaign_id = make_campaign("Live", [("+6581234567", "sent", None),
                                         ("+6581234568", "queued", None), ("12", None, None),
                                         ("+6581234569", None, None)])
    twilio_callback(sid(campaign_id, 0), "delivered")
    twilio_callback(sid(campaign_id, 1), "failed", "30005")
    twilio_callback(sid(campaign_id, 1), "delivered")
    result = app.test_cli_runner().invoke(args=["events", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "0 message state(s) and 0 count(s) found different" in result.output


def test_rebuild_finds_and_repairs_a_damaged_state(app, make_campaign, twilio_callback):
    campaign_id = make_campaign("Live", [("+6581234567", "sent", None),
                                         ("+6581234568", "queued", None)])
    twilio_callback(sid(campaign_id, 1), "undelivered", "30003")
    # Damage: a message set back by hand, and a count edited.
    tamper(app, campaign_id, 1, status="SENT", provider_status="delivered", error_code=None,
           rank=60)
    with app.app_context():
        db.session.execute(sa.update(CampaignCount).values(count=CampaignCount.count + 5))
        db.session.commit()
    runner = app.test_cli_runner()
    found = runner.invoke(args=["events", "rebuild", "--campaign", str(campaign_id)])
    assert found.exit_code == 1
    assert "stored SENT delivered, log says ERROR undelivered 30003" in found.output
    assert "1 message state(s)" in found.output

    repaired = runner.invoke(args=["events", "rebuild", "--repair"])
    assert repaired.exit_code == 0
    with app.app_context():
        row = db.session.execute(sa.select(Message).where(
            Message.provider_message_id == sid(campaign_id, 1))).scalar_one()
        assert (row.status, row.provider_status, row.error_code) == \
            ("ERROR", "undelivered", "30003")
        assert counters.check(db.session.connection(), campaign_id) == []
    assert runner.invoke(args=["events", "rebuild"]).exit_code == 0


def test_demo_data_rebuilds_cleanly(app, monkeypatch):
    from portal import demo

    monkeypatch.setattr(demo, "CAMPAIGNS", (("Demo", 0, 500, 1, True),))
    runner = app.test_cli_runner()
    runner.invoke(args=["demo"])
    result = runner.invoke(args=["events", "rebuild"])
    assert result.exit_code == 0, result.output
