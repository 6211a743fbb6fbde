"""The background applier: a callback is recorded and answered at once, then applied with
others in one transaction; an event left behind by a killed process is applied later."""

import threading
import time

import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from portal import counters
from portal.db import db
from portal.db import utcnow
from portal.db import write_transaction
from portal.ingestion import applier
from portal.ingestion import events
from portal.models import Message
from portal.models import StatusEvent
from portal.providers import ProviderUpdate
from tests.conftest import sid


def state(app, provider_message_id):
    with app.app_context():
        row = db.session.execute(sa.select(Message).where(
            Message.provider_message_id == provider_message_id)).scalar_one()
        return row.status, row.provider_status, row.error_code


def wait_until(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_callback_is_answered_then_applied_in_the_background(app, make_campaign,
                                                               twilio_callback):
    app.config["PORTAL_APPLY_INLINE"] = False
    campaign_id = make_campaign("Live", [("+6581234567", "queued", None)])
    response = twilio_callback(sid(campaign_id, 0), "delivered")
    assert response.status_code == 200 and response.json["outcome"] == "received"
    assert wait_until(lambda: state(app, sid(campaign_id, 0))[1] == "delivered")
    with app.app_context():
        assert counters.check(db.session.connection(), campaign_id) == []


def record_received(app, campaign_id, updates):
    """Events as a process leaves them when it is killed after recording, before applying."""
    with app.app_context(), write_transaction(db.engine) as connection:
        for index, status, code in updates:
            events.record(connection, events.Received("twilio", "callback", {}, utcnow(), True),
                          ProviderUpdate(sid(campaign_id, index), status, code),
                          outcome=events.RECEIVED)


def test_events_left_by_a_killed_process_are_applied_by_the_next_run(app, make_campaign):
    campaign_id = make_campaign("Live", [("+6581234567", "queued", None),
                                         ("+6581234568", "queued", None)])
    record_received(app, campaign_id, [(0, "sent", None), (0, "delivered", None),
                                       (1, "failed", "30005"), (1, "sent", None),
                                       (0, "sent", None)])
    with app.app_context():
        handled = applier.drain(db.engine, app.extensions["portal.plugins"].providers())
        outcomes = db.session.execute(sa.select(StatusEvent.outcome).where(
            StatusEvent.source == "callback").order_by(StatusEvent.id)).scalars().all()
        assert counters.check(db.session.connection(), campaign_id) == []
    assert handled == 5
    assert outcomes == ["applied", "applied", "applied", "ignored", "ignored"]
    assert state(app, sid(campaign_id, 0)) == ("SENT", "delivered", None)
    assert state(app, sid(campaign_id, 1)) == ("ERROR", "failed", "30005")


def test_two_appliers_at_once_apply_each_event_once(app, make_campaign):
    size = 300
    campaign_id = make_campaign("Busy", [(f"+6581{n:06d}", "queued", None) for n in range(size)])
    record_received(app, campaign_id, [(n % size, status, code) for n in range(size * 3)
                                       for status, code in [(("sent", None), ("delivered", None),
                                                             ("undelivered", "30003"))[n % 3]]])
    providers = app.extensions["portal.plugins"].providers()
    errors = []

    def run():
        try:
            with app.app_context():
                applier.drain(db.engine, providers)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        left = db.session.execute(sa.select(sa.func.count()).select_from(StatusEvent).where(
            StatusEvent.outcome == "received")).scalar()
        assert left == 0
        assert counters.check(db.session.connection(), campaign_id) == []
        assert sum(counters.stored(db.session.connection(), campaign_id).values()) == size


SEQUENCES = [
    [("accepted", None), ("queued", None), ("sending", None), ("sent", None),
     ("delivered", None)],
    [("queued", None), ("sending", None), ("sent", None), ("undelivered", "30003")],
    [("queued", None), ("sending", None), ("failed", "30008"), ("failed", "30003")],
    [("sent", None), ("delivered", None), ("undelivered", "30005"), ("read", None)],
]


@st.composite
def scrambled(draw):
    """Per message: a realistic sequence, its events reordered and some repeated, and the
    batch sizes the applier happens to take them in."""
    cases = []
    for index in range(draw(st.integers(1, 4))):
        sequence = draw(st.sampled_from(SEQUENCES))
        extra = draw(st.lists(st.sampled_from(sequence), max_size=len(sequence)))
        cases.append((index, sequence, draw(st.permutations(sequence + extra))))
    return cases, draw(st.integers(1, 7))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=scrambled())
def test_batches_in_any_order_end_where_the_sequence_in_order_ends(app, make_campaign, case,
                                                                  monkeypatch):
    cases, batch = case
    monkeypatch.setattr(applier, "BATCH", batch)
    size = len(cases)
    ordered = make_campaign("In order", [(f"+6581{n:06d}", None, None) for n in range(size)])
    shuffled = make_campaign("Shuffled", [(f"+6582{n:06d}", None, None) for n in range(size)])
    record_received(app, ordered, [(i, s, c) for i, sequence, _ in cases for s, c in sequence])
    with app.app_context():
        applier.drain(db.engine, app.extensions["portal.plugins"].providers())
    record_received(app, shuffled, [(i, s, c) for i, _, events_ in cases for s, c in events_])
    with app.app_context():
        applier.drain(db.engine, app.extensions["portal.plugins"].providers())
        assert counters.check(db.session.connection(), shuffled) == []
    for index, _, _ in cases:
        assert state(app, sid(shuffled, index)) == state(app, sid(ordered, index))
