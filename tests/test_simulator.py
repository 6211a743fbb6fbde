"""The simulator plays Twilio over real HTTP against the portal served on 127.0.0.1."""

import random
import re
import threading

import sqlalchemy as sa
from werkzeug.serving import make_server

from portal import counters
from portal import simulator
from portal.db import db
from portal.models import Message
from portal.models import StatusEvent


def test_plan_is_late_duplicated_and_out_of_order_but_complete():
    sids = [f"SM{n:032x}" for n in range(400)]
    callbacks = simulator.plan(sids, random.Random(5))
    assert {callback.message_sid for callback in callbacks} == set(sids)
    per_message = {}
    for callback in callbacks:
        per_message.setdefault(callback.message_sid, []).append(callback)
    assert any(len(set(c)) < len(c) for c in per_message.values())  # some sent twice
    rank = {"sending": 1, "sent": 2, "delivered": 3, "undelivered": 4, "failed": 4}
    assert any([rank[c.status] for c in seq] != sorted(rank[c.status] for c in seq)
               for seq in per_message.values())  # some out of order
    assert callbacks[0].message_sid != callbacks[1].message_sid or \
        callbacks[1].message_sid != callbacks[2].message_sid  # interleaved


def test_simulated_callbacks_finish_the_campaign_over_http(app, make_campaign):
    campaign_id = make_campaign("In flight", [(f"+6581{n:06d}", "queued", None)
                                              for n in range(60)] + [("12", None, None)])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/callbacks/twilio"
        result = app.test_cli_runner().invoke(args=[
            "simulate", "--url", url, "--campaign", str(campaign_id), "--per-second", "0",
            "--seed", "3"])
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    # Every callback answered 200: none refused (403) or malformed (400).
    answers = result.output.rsplit("Answers: ", 1)[1].strip()
    assert re.fullmatch(r"200: [0-9,]+", answers), result.output
    with app.app_context():
        connection = db.session.connection()
        assert counters.check(connection, campaign_id) == []
        in_flight = db.session.execute(sa.select(sa.func.count()).select_from(Message).where(
            Message.campaign_id == campaign_id, Message.status.in_(("QUEUED", "SENDING")))
        ).scalar()
        assert in_flight == 0
        received = db.session.execute(sa.select(sa.func.count()).select_from(StatusEvent).where(
            StatusEvent.source == "callback", StatusEvent.signature_ok.is_(True))).scalar()
        assert received >= 60
