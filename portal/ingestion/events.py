"""The status event log, and applying an update to its message. Every event is written in
the same transaction that applies it, so a process killed in between has stored neither and
answered nothing (Twilio calls again when the connection fails)."""

import json
from dataclasses import dataclass

import sqlalchemy as sa

from portal import counters
from portal.db import DriverStatement
from portal.db import DriverTransaction
from portal.db import retrying
from portal.db import wait_for_registrations
from portal.models import Message
from portal.models import StatusEvent
from portal.models import is_pending
from portal.providers import ProviderUpdate

events = StatusEvent.__table__
messages = Message.__table__

APPLIED = "applied"
IGNORED = "ignored"
PENDING = "pending"
REJECTED = "rejected"


@dataclass(frozen=True)
class Received:
    """What arrived, as it arrived."""

    provider: str
    source: str
    params: dict
    at: object
    signature_ok: bool | None = None


COLUMNS = ("provider", "source", "provider_message_id", "provider_status", "error_code",
           "params", "signature_ok", "outcome", "reason", "received_at")
INSERT = events.insert().values({name: sa.bindparam(name) for name in COLUMNS})
REGISTERED = sa.select(messages.c.rank, messages.c.error_code).where(
    messages.c.provider_message_id == sa.bindparam("message"))


def row(received, update=None, outcome=PENDING, reason=None):
    """The column values of one event."""
    return {
        "provider": received.provider, "source": received.source,
        "provider_message_id": update.provider_message_id if update else None,
        "provider_status": update.provider_status if update else None,
        "error_code": update.error_code if update else None,
        "params": json.dumps(received.params, sort_keys=True),
        "signature_ok": received.signature_ok, "outcome": outcome,
        "reason": reason[:300] if reason else None, "received_at": received.at,
    }


def write(connection, event):
    """Insert one event row in the caller's transaction."""
    DriverStatement.once(INSERT, connection.dialect).execute(connection, **event)


def record(connection, received, update=None, outcome=PENDING, reason=None):
    """Write one event in the caller's transaction."""
    write(connection, row(received, update, outcome, reason))


def change_for(provider, update, at):
    """The Change an update asks for, or None for a status the provider does not have."""
    status = provider.status(update.provider_status)
    if status is None:
        return None
    error_code = update.error_code if status.status == "ERROR" else None
    return counters.Change(status.status, update.provider_status, error_code, status.rank, at)


def apply(connection, provider, update, at):
    """Move the message ``update`` names as the provider's precedence allows. Returns the
    outcome: APPLIED, IGNORED (outranked, a duplicate, or a word the provider does not
    have) or PENDING (no such message registered yet)."""
    return _move(connection, update.provider_message_id, change_for(provider, update, at))


def _move(connection, provider_message_id, change):
    outcome = _move_registered(connection, provider_message_id, change)
    if outcome is not None:
        return outcome
    # Not registered as this transaction sees it; a registration may be committing the
    # message right now. After waiting for it, look once more.
    if wait_for_registrations(connection):
        return _move_registered(connection, provider_message_id, change) or PENDING
    return PENDING


def _move_registered(connection, provider_message_id, change):
    """APPLIED or IGNORED for a registered message; None when there is no such message."""
    if change is not None and counters.apply_change(connection, provider_message_id, change):
        return APPLIED
    found = DriverStatement.once(REGISTERED, connection.dialect).rows(
        connection, message=provider_message_id)
    if not found:
        return None
    if change is not None and counters.outranks(change, *found[0]):
        # Registered between the UPDATE and this look (another transaction committed in
        # between, on PostgreSQL): the UPDATE sees it now.
        return APPLIED if counters.apply_change(connection, provider_message_id,
                                                change) else IGNORED
    return IGNORED


def receive(connection, provider, received, update):
    """Apply one update and record it with its outcome, in the caller's transaction; return
    the outcome."""
    return _move_and_write(connection, row(received, update), update.provider_message_id,
                           change_for(provider, update, received.at))


def receive_alone(engine, provider, received, update):
    """receive() in a write transaction of its own, as short as the database allows (the
    callback path): all but the statements is prepared before the write lock is taken. A
    transaction the database aborted to break a deadlock is run again."""
    event = row(received, update)
    change = change_for(provider, update, received.at)

    def attempt():
        with DriverTransaction(engine) as transaction:
            return _move_and_write(transaction, event, update.provider_message_id, change)

    return retrying(attempt)


def _move_and_write(connection, event, provider_message_id, change):
    event["outcome"] = _move(connection, provider_message_id, change)
    write(connection, event)
    return event["outcome"]


def apply_pending(connection, provider, campaign_id=None):
    """Apply the callbacks that came before their messages were registered: those for the
    messages of ``campaign_id``, or of any campaign. Call it last in the transaction that
    registers messages: from here to the commit it takes turns with callbacks looking for a
    message not registered yet (wait_for_registrations), so one of the two sees the other's
    work. Returns how many moved a message."""
    wait_for_registrations(connection)
    waiting = connection.execute(
        sa.select(events.c.id, events.c.provider_message_id, events.c.provider_status,
                  events.c.error_code, events.c.received_at)
        .where(is_pending(events.c.outcome), events.c.provider == provider.name)
        .order_by(events.c.id)
    ).all()
    # Pending callbacks are few (their index holds nothing else); their messages are looked
    # up by provider id, which keeps to the unique index even when the planner's
    # statistics do not count this transaction's rows yet.
    ids = sorted({row.provider_message_id for row in waiting})
    registered = set()
    for start in range(0, len(ids), 500):
        query = sa.select(messages.c.provider_message_id).where(
            messages.c.provider_message_id.in_(ids[start:start + 500]))
        if campaign_id is not None:
            query = query.where(messages.c.campaign_id == campaign_id)
        registered.update(connection.execute(query).scalars())
    rows = [row for row in waiting if row.provider_message_id in registered]
    applied = 0
    for row in rows:
        update = ProviderUpdate(row.provider_message_id, row.provider_status, row.error_code)
        outcome = apply(connection, provider, update, row.received_at)
        if outcome != PENDING:
            connection.execute(events.update().where(events.c.id == row.id).values(
                outcome=outcome))
        applied += outcome == APPLIED
    return applied
