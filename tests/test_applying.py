"""Applying a callback in its own request: the event and the move are one transaction,
callbacks racing for the same messages apply each once, and every order ends where the
log says it should."""

import random
import threading
import time

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade
from flask_migrate import upgrade
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from portal import counters
from portal import registration
from portal import simulator
from portal.db import db
from portal.db import utcnow
from portal.db import write_transaction
from portal.ingestion import events
from portal.models import StatusEvent
from portal.plugin_manager import current_plugins
from tests.conftest import sid
from tests.test_callbacks import message as state
from tests.test_concurrency import expected_state


def outcomes(app):
    with app.app_context():
        return db.session.execute(sa.select(StatusEvent.outcome).where(
            StatusEvent.source == "callback").order_by(StatusEvent.id)).scalars().all()


def test_a_callback_that_fails_halfway_stores_nothing(app, make_campaign, twilio_callback,
                                                      monkeypatch):
    campaign_id = make_campaign("Live", [("+6581234567", "queued", None)])

    def broken(*args, **kwargs):
        raise RuntimeError("the process died after moving the message")

    monkeypatch.setattr(events, "write", broken)
    with pytest.raises(RuntimeError):
        twilio_callback(sid(campaign_id, 0), "delivered")
    assert state(app, sid(campaign_id, 0)) == ("QUEUED", "queued", None)
    assert outcomes(app) == []
    with app.app_context():
        assert counters.stored(db.session.connection(), campaign_id) == {
            ("QUEUED", "queued", ""): 1}

    monkeypatch.undo()  # Twilio, seeing the failed connection, calls again
    assert twilio_callback(sid(campaign_id, 0), "delivered").json["outcome"] == "applied"
    assert state(app, sid(campaign_id, 0)) == ("SENT", "delivered", None)


def test_a_callback_waits_for_a_writer_holding_its_message(app, make_campaign, twilio_callback):
    campaign_id = make_campaign("Live", [("+6581234567", "queued", None)])
    holding, answers = threading.Event(), []
    late = counters.Change("SENT", "sent", None, 50, utcnow())

    def hold():
        with app.app_context(), write_transaction(db.engine) as connection:
            counters.apply_change(connection, sid(campaign_id, 0), late)
            holding.set()
            time.sleep(0.5)

    writer = threading.Thread(target=hold)
    writer.start()
    holding.wait(5)
    started = time.monotonic()
    answers.append(twilio_callback(sid(campaign_id, 0), "delivered"))
    waited = time.monotonic() - started
    writer.join()
    assert answers[0].status_code == 200 and answers[0].json["outcome"] == "applied"
    assert waited > 0.2  # it waited for the lock, and did not fail
    assert state(app, sid(campaign_id, 0)) == ("SENT", "delivered", None)
    with app.app_context():
        assert counters.check(db.session.connection(), campaign_id) == []


def test_a_callback_arriving_while_its_message_is_registered_is_applied(
        app, make_campaign, twilio_callback):
    campaign_id = make_campaign("Registering")
    early = "SM" + "d" * 32
    registering = threading.Event()

    def register():
        with app.app_context(), write_transaction(db.engine) as connection:
            provider = current_plugins().providers()["twilio"]
            registration.register(connection, campaign_id, provider, "SG",
                                  [registration.NewMessage("+6581234567", early)], utcnow())
            registering.set()
            time.sleep(0.5)  # the callback comes in before this commits

    registrar = threading.Thread(target=register)
    registrar.start()
    registering.wait(5)
    answer = twilio_callback(early, "delivered")
    registrar.join()
    assert answer.json["outcome"] == "applied"
    assert state(app, early) == ("SENT", "delivered", None)
    with app.app_context():
        assert counters.check(db.session.connection(), campaign_id) == []


class Deadlock(Exception):
    """What PostgreSQL raises in the transaction it aborts to break a deadlock."""

    sqlstate = "40P01"


def test_a_callback_aborted_to_break_a_deadlock_is_applied_on_the_next_try(
        app, make_campaign, twilio_callback, monkeypatch):
    campaign_id = make_campaign("Live", [("+6581234567", "queued", None)])
    write, tries = events.write, []

    def deadlocked_once(*args, **kwargs):
        tries.append(1)
        write(*args, **kwargs)
        if len(tries) == 1:
            raise Deadlock("deadlock detected")

    monkeypatch.setattr(events, "write", deadlocked_once)
    response = twilio_callback(sid(campaign_id, 0), "delivered")
    assert response.status_code == 200 and response.json["outcome"] == "applied"
    assert len(tries) == 2
    assert outcomes(app) == ["applied"]  # the aborted try left nothing behind
    with app.app_context():
        assert counters.stored(db.session.connection(), campaign_id) == {
            ("SENT", "delivered", ""): 1}


def test_a_callback_deadlocked_at_every_try_gives_up_after_three_storing_nothing(
        app, make_campaign, twilio_callback, monkeypatch):
    campaign_id = make_campaign("Live", [("+6581234567", "queued", None)])
    tries = []

    def deadlocked(*args, **kwargs):
        tries.append(1)
        raise Deadlock("deadlock detected")

    monkeypatch.setattr(events, "write", deadlocked)
    with pytest.raises(Deadlock):
        twilio_callback(sid(campaign_id, 0), "delivered")
    assert len(tries) == 3
    assert state(app, sid(campaign_id, 0)) == ("QUEUED", "queued", None)
    assert outcomes(app) == []


def test_callbacks_racing_for_the_same_messages_apply_each_once(app, make_campaign,
                                                                twilio_callback):
    size = 60
    campaign_id = make_campaign("Busy", [(f"+6581{n:06d}", "queued", None)
                                         for n in range(size)])
    callbacks = simulator.plan([sid(campaign_id, n) for n in range(size)], random.Random(5))
    parts = [callbacks[start::4] for start in range(4)]
    answers, errors = [], []

    def post(part):
        try:
            answers.extend(twilio_callback(callback.message_sid, callback.status,
                                           callback.error_code).status_code
                           for callback in part)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=post, args=(part,)) for part in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and answers == [200] * len(callbacks)
    provider = app.extensions["portal.plugins"].providers()["twilio"]
    assert {sid(campaign_id, n): state(app, sid(campaign_id, n)) for n in range(size)} == \
        expected_state(provider, callbacks)
    assert set(outcomes(app)) <= {"applied", "ignored"}
    assert len(outcomes(app)) == len(callbacks)
    with app.app_context():
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
    """Per message: a realistic sequence, its callbacks reordered and some repeated."""
    cases = []
    for index in range(draw(st.integers(1, 4))):
        sequence = draw(st.sampled_from(SEQUENCES))
        extra = draw(st.lists(st.sampled_from(sequence), max_size=len(sequence)))
        cases.append((index, sequence, draw(st.permutations(sequence + extra))))
    return cases


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=scrambled())
def test_callbacks_in_any_order_end_where_the_log_says(app, make_campaign, twilio_callback,
                                                       cases):
    size = len(cases)
    ordered = make_campaign("In order", [(f"+6581{n:06d}", None, None) for n in range(size)])
    shuffled = make_campaign("Shuffled", [(f"+6582{n:06d}", None, None) for n in range(size)])
    for index, sequence, scrambled_sequence in cases:
        for status, code in sequence:
            twilio_callback(sid(ordered, index), status, code)
        for status, code in scrambled_sequence:
            twilio_callback(sid(shuffled, index), status, code)
    for index, _, _ in cases:
        assert state(app, sid(shuffled, index)) == state(app, sid(ordered, index))
    # The database's precedence (the UPDATE's condition) and the rebuild's (Python) agree.
    rebuilt = app.test_cli_runner().invoke(args=["events", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    with app.app_context():
        assert counters.check(db.session.connection(), shuffled) == []


def test_callbacks_an_earlier_version_left_unapplied_are_applied_by_the_migration(
        app, make_campaign):
    campaign_id = make_campaign("Upgraded", [("+6581234567", "queued", None),
                                             ("+6581234568", "queued", None)])
    left = [(sid(campaign_id, 0), "delivered", None), (sid(campaign_id, 0), "sent", None),
            (sid(campaign_id, 1), "failed", "30005"), ("SM" + "f" * 32, "delivered", None)]
    with app.app_context():
        downgrade(revision="0003")
        with db.engine.begin() as connection:
            connection.execute(sa.insert(StatusEvent), [
                {"provider": "twilio", "source": "callback", "provider_message_id": message,
                 "provider_status": status, "error_code": code, "params": "{}",
                 "signature_ok": True, "outcome": "received", "received_at": utcnow()}
                for message, status, code in left])
        upgrade()
    assert state(app, sid(campaign_id, 0)) == ("SENT", "delivered", None)
    assert state(app, sid(campaign_id, 1)) == ("ERROR", "failed", "30005")
    assert outcomes(app) == ["applied", "ignored", "applied", "pending"]
    with app.app_context():
        assert counters.check(db.session.connection(), campaign_id) == []
