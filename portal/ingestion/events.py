"""The status event log, and applying an event to its message. Every event is written in
the same transaction that applies it, so a process killed in between loses nothing."""

import json
from dataclasses import dataclass

import sqlalchemy as sa

from portal import counters
from portal.db import DriverStatement
from portal.models import Message
from portal.models import StatusEvent
from portal.providers import ProviderUpdate

events = StatusEvent.__table__
messages = Message.__table__

RECEIVED = "received"
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
INSERT = events.insert().values({name: sa.bindparam(name) for name in COLUMNS}).returning(
    events.c.id)
# Compiled once per database dialect: the callback path writes one event per callback.
_compiled_inserts = {}


def _insert_for(dialect):
    statement = _compiled_inserts.get(dialect.name)
    if statement is None:
        statement = _compiled_inserts.setdefault(dialect.name, DriverStatement(INSERT, dialect))
    return statement


def _values(received, update, outcome, reason):
    return {
        "provider": received.provider, "source": received.source,
        "provider_message_id": update.provider_message_id if update else None,
        "provider_status": update.provider_status if update else None,
        "error_code": update.error_code if update else None,
        "params": json.dumps(received.params, sort_keys=True),
        "signature_ok": received.signature_ok, "outcome": outcome,
        "reason": reason[:300] if reason else None, "received_at": received.at,
    }


def record(connection, received, update=None, outcome=PENDING, reason=None):
    """Write one event in the caller's transaction; return its id."""
    return _insert_for(connection.dialect).rows(
        connection, **_values(received, update, outcome, reason))[0][0]


def record_alone(engine, received, update=None, outcome=PENDING, reason=None):
    """Write one event in a transaction of its own, the shortest the database allows (the
    callback path); return its id."""
    return _insert_for(engine.dialect).run_alone(
        engine, **_values(received, update, outcome, reason))[0][0]


def change_for(provider, update, at):
    """The Change an update asks for, or None for a status the provider does not have."""
    status = provider.status(update.provider_status)
    if status is None:
        return None
    error_code = update.error_code if status.status == "ERROR" else None
    return counters.Change(status.status, update.provider_status, error_code, status.rank, at)


def apply(connection, provider, update, event_id, at):
    """Apply a recorded event to its message, if the message is registered; mark the event
    with the outcome and return it."""
    message_id = connection.execute(
        sa.select(messages.c.id).where(
            messages.c.provider_message_id == update.provider_message_id)).scalar()
    if message_id is None:
        return PENDING
    change = change_for(provider, update, at)
    moved = change is not None and counters.apply_change(connection, message_id, change)
    outcome = APPLIED if moved else IGNORED
    connection.execute(events.update().where(events.c.id == event_id).values(outcome=outcome))
    return outcome


def receive(connection, provider, received, update):
    """Record and apply one update in the caller's transaction; return the outcome."""
    event_id = record(connection, received, update)
    return apply(connection, provider, update, event_id, received.at)


def apply_pending(connection, provider, provider_message_ids):
    """Apply the events that arrived before their messages were registered."""
    applied = 0
    # Nearly always nothing waits; asking that first (one index probe) spares a query per
    # chunk that a planner without fresh statistics may answer with a scan of the log.
    waiting = connection.execute(sa.select(events.c.id).where(
        events.c.outcome == PENDING).limit(1)).first()
    ids = list(provider_message_ids) if waiting else []
    for start in range(0, len(ids), 500):
        rows = connection.execute(
            sa.select(events.c.id, events.c.provider_message_id, events.c.provider_status,
                      events.c.error_code, events.c.received_at)
            .where(events.c.provider_message_id.in_(ids[start:start + 500]),
                   events.c.outcome == PENDING, events.c.provider == provider.name)
            .order_by(events.c.id)
        ).all()
        for row in rows:
            update = ProviderUpdate(row.provider_message_id, row.provider_status, row.error_code)
            if apply(connection, provider, update, row.id, row.received_at) == APPLIED:
                applied += 1
    return applied
