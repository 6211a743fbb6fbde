"""Rebuilding every message's state from the status event log: a message's state is its
registered base (QUEUED, or the invalid-number error) raised by every event that was
accepted for it, by the provider's precedence."""

from dataclasses import dataclass

import sqlalchemy as sa

from portal import counters
from portal import statuses
from portal.ingestion import events
from portal.models import Message
from portal.models import StatusEvent
from portal.providers import ProviderUpdate

messages = Message.__table__
log_table = StatusEvent.__table__
PAGE = 2000


@dataclass(frozen=True)
class MessageDifference:
    message_id: int
    stored: tuple
    rebuilt: tuple


def _state(row):
    return (row.status, row.provider_status, row.error_code, row.rank)


def _rebuilt(provider, row, updates):
    if row.error_code == statuses.INVALID_NUMBER:
        return _state(row)
    best = counters.Change(statuses.QUEUED, None, None, 0, None)
    for update in updates:
        change = events.change_for(provider, update, None)
        if change is not None and counters.outranks(change, best.rank, best.error_code):
            best = change
    return (best.status, best.provider_status, best.error_code, best.rank)


def _updates_by_message(connection, provider, provider_message_ids):
    found = {}
    rows = connection.execute(
        sa.select(log_table.c.provider_message_id, log_table.c.provider_status,
                  log_table.c.error_code)
        .where(log_table.c.provider == provider.name,
               log_table.c.provider_message_id.in_(provider_message_ids),
               log_table.c.outcome.in_((events.APPLIED, events.IGNORED)))
    )
    for message_id, provider_status, error_code in rows:
        found.setdefault(message_id, []).append(
            ProviderUpdate(message_id, provider_status, error_code))
    return found


def rebuild_campaign(connection, campaign, provider, repair=False):
    """Compare every message of ``campaign`` with its state rebuilt from the log; with
    ``repair``, write the rebuilt state and recount. Returns (message differences, count
    differences)."""
    differences = []
    after = 0
    while True:
        page = connection.execute(
            sa.select(messages.c.id, messages.c.provider_message_id, messages.c.status,
                      messages.c.provider_status, messages.c.error_code, messages.c.rank)
            .where(messages.c.campaign_id == campaign.id, messages.c.id > after)
            .order_by(messages.c.id).limit(PAGE)
        ).all()
        if not page:
            break
        after = page[-1].id
        ids = [row.provider_message_id for row in page if row.provider_message_id]
        updates = _updates_by_message(connection, provider, ids) if ids else {}
        for row in page:
            rebuilt = _rebuilt(provider, row, updates.get(row.provider_message_id, ()))
            if rebuilt != _state(row):
                differences.append(MessageDifference(row.id, _state(row), rebuilt))
                if repair:
                    status, provider_status, error_code, rank = rebuilt
                    connection.execute(messages.update().where(messages.c.id == row.id).values(
                        status=status, provider_status=provider_status,
                        error_code=error_code, rank=rank))
    count_differences = counters.check(connection, campaign.id, repair=repair)
    return differences, count_differences
