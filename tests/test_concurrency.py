"""Several gunicorn workers applying callbacks for one campaign at once, with a report
downloading meanwhile: no update lost, no status regressed, counts equal to the rows. Runs
on whichever database the suite runs on (make test runs it on PostgreSQL too)."""

import csv
import io
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import sqlalchemy as sa

from portal import counters
from portal import simulator
from portal.db import db
from portal.models import Message
from portal.models import StatusEvent
from tests.conftest import ACCOUNT_SID
from tests.conftest import AUTH_TOKEN
from tests.conftest import settings
from tests.test_serving import free_port
from tests.test_serving import sign_in
from tests.test_serving import wait_for

WORKERS = 4
MESSAGES = 400


def expected_state(provider, callbacks):
    """Each message's final (status, provider status, error code) by precedence alone."""
    best = {}
    for callback in callbacks:
        status = provider.status(callback.status)
        key = (status.rank, callback.error_code or "")
        if callback.message_sid not in best or key > best[callback.message_sid][0]:
            code = callback.error_code if status.status == "ERROR" else None
            best[callback.message_sid] = (key, (status.status, callback.status, code))
    return {sid: state for sid, (_, state) in best.items()}


def test_concurrent_workers_lose_nothing_and_never_regress(app, make_campaign, make_user,
                                                           database_url):
    campaign_id = make_campaign("Concurrent", [(f"+6581{n:06d}", "queued", None)
                                               for n in range(MESSAGES)])
    make_user("viewer@example.gov", "viewer", "Ops")
    with app.app_context():
        sids = db.session.execute(sa.select(Message.provider_message_id).where(
            Message.campaign_id == campaign_id)).scalars().all()
        provider = app.extensions["portal.plugins"].providers()["twilio"]
    callbacks = simulator.plan(sids, random.Random(11))
    port = free_port()
    environment = {**os.environ, "PORTAL_DATABASE_URL": settings(database_url)[
        "PORTAL_DATABASE_URL"], "PORTAL_BIND": f"127.0.0.1:{port}",
        "PORTAL_WORKERS": str(WORKERS), "PORTAL_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PORTAL_TWILIO_ACCOUNT_SID": ACCOUNT_SID, "PORTAL_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "python:portal.serving"],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = {}
    try:
        wait_for(port)
        cookie = sign_in(port, "viewer@example.gov")

        def download():
            import http.client

            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", f"/campaigns/{campaign_id}/report.csv",
                               headers={"Cookie": cookie})
            report["body"] = connection.getresponse().read()
            connection.close()

        downloader = threading.Thread(target=download)
        sender = simulator.Sender(f"http://127.0.0.1:{port}/callbacks/twilio", AUTH_TOKEN,
                                  ACCOUNT_SID)
        downloader.start()
        answers = sender.send_all(callbacks, workers=8)
        downloader.join()
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert answers == {200: len(callbacks)}

    with app.app_context():
        db.session.rollback()
        stored = {row.provider_message_id: (row.status, row.provider_status, row.error_code)
                  for row in db.session.execute(sa.select(Message).where(
                      Message.campaign_id == campaign_id)).scalars()}
        assert counters.check(db.session.connection(), campaign_id) == []
        outcomes = db.session.execute(sa.select(StatusEvent.outcome, sa.func.count()).where(
            StatusEvent.source == "callback").group_by(StatusEvent.outcome)).all()
    assert stored == expected_state(provider, callbacks)
    assert sum(count for outcome, count in outcomes if outcome in ("applied", "ignored")) \
        == len(callbacks)
    rows = list(csv.reader(io.StringIO(report["body"].decode("utf-8-sig"))))
    assert len(rows) == MESSAGES + 1

