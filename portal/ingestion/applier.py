"""Applying received callbacks in batches.

A callback request only verifies, reads and records its event (one INSERT, committed), then
answers; the applier moves the messages and the counts for many events in one transaction.
The event is kept before it is applied, so a process killed in between loses nothing: the
next applier run, in any worker, picks the event up. Fewer, larger write transactions are
what lets SQLite (one writer at a time) and the hot counter rows keep up with thousands of
callbacks a second.
"""

import logging
import threading
import time
from collections import Counter

import sqlalchemy as sa

from portal import counters
from portal.db import write_transaction
from portal.ingestion import events
from portal.models import Message
from portal.models import StatusEvent

log = logging.getLogger(__name__)
event_table = StatusEvent.__table__
messages = Message.__table__

BATCH = 500
SWEEP_SECONDS = 2.0
GATHER_SECONDS = 0.25


def _messages_by_provider_id(connection, provider_message_ids):
    found = {}
    ids = list(provider_message_ids)
    for start in range(0, len(ids), 500):
        rows = connection.execute(
            sa.select(messages.c.id, messages.c.provider_message_id, messages.c.campaign_id,
                      messages.c.status, messages.c.provider_status, messages.c.error_code,
                      messages.c.rank)
            .where(messages.c.provider_message_id.in_(ids[start:start + 500]))
            .with_for_update()
        )
        for row in rows:
            found[row.provider_message_id] = dict(row._mapping)
    return found


def apply_received(connection, providers, limit):
    """Apply up to ``limit`` received events, oldest first, in the caller's transaction.
    Returns how many were handled. Workers racing for the same events skip each other's
    (on PostgreSQL, SKIP LOCKED; SQLite has one writer at a time anyway)."""
    received = connection.execute(
        sa.select(event_table.c.id, event_table.c.provider, event_table.c.provider_message_id,
                  event_table.c.provider_status, event_table.c.error_code,
                  event_table.c.received_at)
        .where(event_table.c.outcome == events.RECEIVED)
        .order_by(event_table.c.id).limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not received:
        return 0
    state = _messages_by_provider_id(connection, {e.provider_message_id for e in received})
    deltas = Counter()
    changed = {}
    outcomes = []
    for event in received:
        message = state.get(event.provider_message_id)
        provider = providers.get(event.provider)
        if message is None or provider is None:
            outcomes.append({"event_id": event.id, "outcome": events.PENDING})
            continue
        change = events.change_for(provider, event, event.received_at)
        if change is None or not counters.outranks(change, message["rank"],
                                                   message["error_code"]):
            outcomes.append({"event_id": event.id, "outcome": events.IGNORED})
            continue
        campaign = message["campaign_id"]
        deltas[campaign, counters.key(message["status"], message["provider_status"],
                                      message["error_code"])] -= 1
        deltas[campaign, counters.key(change.status, change.provider_status,
                                      change.error_code)] += 1
        message.update(status=change.status, provider_status=change.provider_status,
                       error_code=change.error_code, rank=change.rank,
                       updated_at=change.at)
        changed[message["id"]] = message
        outcomes.append({"event_id": event.id, "outcome": events.APPLIED})

    if changed:
        connection.execute(
            messages.update().where(messages.c.id == sa.bindparam("message_id")).values(
                status=sa.bindparam("status"), provider_status=sa.bindparam("provider_status"),
                error_code=sa.bindparam("error_code"), rank=sa.bindparam("rank"),
                updated_at=sa.bindparam("updated_at")),
            [{"message_id": m["id"], "status": m["status"],
              "provider_status": m["provider_status"], "error_code": m["error_code"],
              "rank": m["rank"], "updated_at": m["updated_at"]} for m in changed.values()])
    for (campaign, key), delta in sorted(deltas.items()):
        if delta:
            counters.add(connection, campaign, counters.bucket(*key), delta)
    connection.execute(
        event_table.update().where(event_table.c.id == sa.bindparam("event_id"))
        .values(outcome=sa.bindparam("outcome")), outcomes)
    return len(received)


def drain(engine, providers):
    """Apply every received event, a batch per transaction; return how many."""
    handled = 0
    while True:
        with write_transaction(engine) as connection:
            done = apply_received(connection, providers, BATCH)
        handled += done
        if done < BATCH:
            return handled


class Applier:
    """One background thread per web process: woken by each callback, and sweeping every
    few seconds for events a killed process left behind."""

    def __init__(self, app):
        self.app = app
        self.wake_up = threading.Event()
        self.lock = threading.Lock()
        self.thread = None

    def wake(self):
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="callback-applier",
                                               daemon=True)
                self.thread.start()
        self.wake_up.set()

    def _run(self):
        with self.app.app_context():
            from portal.db import db
            from portal.plugin_manager import current_plugins

            while True:
                self.wake_up.wait(SWEEP_SECONDS)
                # Let callbacks gather, so one transaction applies many of them.
                time.sleep(GATHER_SECONDS)
                self.wake_up.clear()
                try:
                    drain(db.engine, current_plugins().providers())
                except Exception:  # keep the thread alive; the events stay to be retried
                    log.exception("applying callbacks failed; retrying at the next sweep")
