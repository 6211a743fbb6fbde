"""Status changes and the per-campaign counts: a status never moves backwards, every order
of updates ends in the same state, and the counts always equal a count of the rows."""

import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plugins.twilio import TWILIO
from portal import counters
from portal.db import db
from portal.db import utcnow
from portal.models import CampaignCount
from portal.models import Message


def change(provider_status, error_code=None):
    known = TWILIO.status(provider_status)
    return counters.Change(known.status, provider_status, error_code, known.rank, utcnow())


def message_ids(app, campaign_id):
    """The provider message ids of the campaign's messages, in the order they were made."""
    with app.app_context():
        return db.session.execute(sa.select(Message.provider_message_id).where(
            Message.campaign_id == campaign_id).order_by(Message.id)).scalars().all()


def state(app, message_id):
    with app.app_context():
        message = db.session.execute(sa.select(Message).where(
            Message.provider_message_id == message_id)).scalar_one()
        return message.status, message.provider_status, message.error_code


def apply(app, message_id, update):
    with app.app_context(), db.engine.begin() as connection:
        return counters.apply_change(connection, message_id, update)


def test_a_status_never_moves_backwards(app, make_campaign):
    (message_id,) = message_ids(app, make_campaign("One", [("+6581234567", "queued", None)]))
    assert apply(app, message_id, change("delivered"))
    assert not apply(app, message_id, change("sent"))  # late
    assert state(app, message_id) == ("SENT", "delivered", None)
    assert apply(app, message_id, change("undelivered", "30003"))  # an error outranks
    assert not apply(app, message_id, change("delivered"))
    assert state(app, message_id) == ("ERROR", "undelivered", "30003")


def test_counts_move_with_the_status(app, make_campaign):
    campaign_id = make_campaign("One", [("+6581234567", "queued", None)])
    (message_id,) = message_ids(app, campaign_id)
    apply(app, message_id, change("failed", "30005"))
    with app.app_context():
        assert counters.stored(db.session.connection(), campaign_id) == {
            ("ERROR", "failed", "30005"): 1}
        assert counters.check(db.session.connection(), campaign_id) == []


# Each example makes its own campaign, so sharing the app fixture between examples is safe.
FIXTURES_ARE_FRESH = [HealthCheck.function_scoped_fixture]

SEQUENCES = [
    [("accepted", None), ("queued", None), ("sending", None), ("sent", None),
     ("delivered", None)],
    [("queued", None), ("sending", None), ("sent", None), ("undelivered", "30003")],
    [("queued", None), ("sending", None), ("failed", "30008"), ("failed", "30003")],
    [("queued", None), ("sent", None), ("delivered", None), ("undelivered", "30005")],
]


@st.composite
def shuffled_with_duplicates(draw):
    sequence = draw(st.sampled_from(SEQUENCES))
    events = draw(st.lists(st.sampled_from(sequence), min_size=len(sequence),
                           max_size=3 * len(sequence)))
    return sequence, draw(st.permutations(events + sequence))


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES_ARE_FRESH)
@given(case=shuffled_with_duplicates())
def test_every_order_and_duplication_ends_in_the_same_state(app, make_campaign, case):
    sequence, events = case
    in_order_id, shuffled_id = message_ids(app, make_campaign(
        "Pair", [("+6581234567", None, None), ("+6581234568", None, None)]))
    for provider_status, code in sequence:
        apply(app, in_order_id, change(provider_status, code))
    for provider_status, code in events:
        apply(app, shuffled_id, change(provider_status, code))
    assert state(app, shuffled_id) == state(app, in_order_id)


@settings(max_examples=5, deadline=None, suppress_health_check=FIXTURES_ARE_FRESH)
@given(updates=st.lists(st.tuples(st.integers(0, 49), st.sampled_from(
    [pair for sequence in SEQUENCES for pair in sequence])), min_size=500, max_size=2000))
def test_counts_equal_the_rows_after_thousands_of_updates(app, make_campaign, updates):
    campaign_id = make_campaign("Fifty", [(f"+658123{n:04d}", None, None) for n in range(50)])
    ids = message_ids(app, campaign_id)
    with app.app_context(), db.engine.begin() as connection:
        for index, (provider_status, code) in updates:
            counters.apply_change(connection, ids[index], change(provider_status, code))
    with app.app_context():
        connection = db.session.connection()
        assert counters.check(connection, campaign_id) == []
        assert sum(counters.stored(connection, campaign_id).values()) == 50


def test_check_command_finds_and_repairs_wrong_counts(app, make_campaign):
    campaign_id = make_campaign("Drifted", [("+6581234567", "delivered", None),
                                            ("+6581234568", "queued", None)])
    with app.app_context():
        db.session.execute(sa.update(CampaignCount).where(
            CampaignCount.campaign_id == campaign_id, CampaignCount.status == "SENT"
        ).values(count=7))
        db.session.commit()
    runner = app.test_cli_runner()

    found = runner.invoke(args=["counters", "check"])
    assert found.exit_code == 1
    assert f"campaign {campaign_id} (Drifted): SENT delivered -: stored 7, rows 1" in found.output
    assert "Run again with --repair" in found.output

    repaired = runner.invoke(args=["counters", "check", "--repair"])
    assert repaired.exit_code == 0 and "1 wrong count(s) repaired" in repaired.output
    clean = runner.invoke(args=["counters", "check"])
    assert clean.exit_code == 0 and "match their message rows" in clean.output


def test_check_command_for_an_unknown_campaign(app):
    result = app.test_cli_runner().invoke(args=["counters", "check", "--campaign", "42"])
    assert result.exit_code == 2 and "There is no campaign 42" in result.output
