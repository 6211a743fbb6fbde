"""Retention: old campaigns lose their phone numbers and keep their numbers of messages;
prepared report files, which hold numbers too, go an hour after they are ready."""

import csv
import io
import json
import os
from datetime import timedelta

import sqlalchemy as sa

from portal import counters
from portal import reports
from portal.db import db
from portal.db import utcnow
from portal.models import Job
from portal.models import Message
from portal.models import StatusEvent
from tests.conftest import HTMX
from tests.conftest import page
from tests.conftest import sid
from tests.conftest import text


def test_old_campaigns_are_redacted_once_and_keep_their_counts(app, client, make_campaign,
                                                               twilio_callback):
    old = make_campaign("Old", [("+6581234567", "delivered", None),
                                ("+6581234568", "failed", "30005")],
                        sent_at=utcnow() - timedelta(days=400))
    recent = make_campaign("Recent", [("+6591234567", "sent", None)])
    twilio_callback(sid(old, 0), "read")
    with app.app_context():
        before = counters.stored(db.session.connection(), old)

    dry = app.test_cli_runner().invoke(args=["retention", "run", "--dry-run"])
    assert f"campaign {old} (Old)" in dry.output and "due" in dry.output
    run = app.test_cli_runner().invoke(args=["retention", "run"])
    assert f"campaign {old} (Old): 2 numbers redacted" in run.output
    again = app.test_cli_runner().invoke(args=["retention", "run"])
    assert "No campaign older than 365 days still holds phone numbers" in again.output

    with app.app_context():
        numbers = dict(db.session.execute(sa.select(Message.campaign_id, Message.recipient)).all())
        assert numbers[old] == "[redacted]" and numbers[recent] == "+6591234567"
        assert counters.stored(db.session.connection(), old) == before
        params = db.session.execute(sa.select(StatusEvent.params).where(
            StatusEvent.provider_message_id == sid(old, 0))).scalars().all()
        assert params and all(json.loads(p) == {"redacted": True} for p in params)

    document = page(client.get(f"/campaigns/{old}"))
    assert "were redacted" in text(document.select_one(".warning"))
    assert text(document.select_one("#count-total")) == "2"
    rows = list(csv.reader(io.StringIO(
        client.get(f"/campaigns/{old}/report.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert [row[0] for row in rows[1:]] == ["[redacted]", "[redacted]"]
    assert "+6581234567" not in client.get(f"/campaigns/{old}/report.csv").get_data(as_text=True)


def test_expired_prepared_reports_are_removed_and_counted(app, client, make_campaign,
                                                          tmp_path):
    app.instance_path = str(tmp_path)
    app.config["PORTAL_RUN_IN_BACKGROUND"] = False
    campaign_id = make_campaign("Road closure", [("+6581234567", "delivered", None)])
    expired, expired_too, recent = (
        int(client.post(f"/campaigns/{campaign_id}/report.csv/prepare{only}", headers=HTMX)
            .headers["HX-Redirect"].split("/")[-2]) for only in ("", "?only=errors", ""))
    folder = tmp_path / "reports"
    with app.app_context():
        db.session.execute(sa.update(Job).where(Job.id.in_([expired, expired_too])).values(
            finished_at=utcnow() - timedelta(seconds=reports.KEEP_SECONDS + 1)))
        db.session.commit()
    files = sorted(os.listdir(folder))
    assert len(files) == 3

    dry = app.test_cli_runner().invoke(args=["retention", "run", "--dry-run"])
    assert "2 expired prepared report files due for removal." in dry.output
    assert sorted(os.listdir(folder)) == files
    run = app.test_cli_runner().invoke(args=["retention", "run"])
    assert "No campaign older than 365 days still holds phone numbers." in run.output
    assert "2 expired prepared report files removed." in run.output
    assert [name.split("-")[0] for name in os.listdir(folder)] == [str(recent)]
    again = app.test_cli_runner().invoke(args=["retention", "run"])
    assert "0 expired prepared report files removed." in again.output
