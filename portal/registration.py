"""Registering a campaign's messages: numbers normalised, invalid ones recorded as ERROR
with the invalid-number error, duplicates skipped and reported, statuses given at import
logged as status events, and callbacks that came early applied. The counts move in the
caller's transaction."""

import json
from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa

from portal import counters
from portal import phones
from portal import statuses
from portal.db import insert_many
from portal.db import prefer_index_scans
from portal.ingestion import events
from portal.models import Message
from portal.models import StatusEvent

messages = Message.__table__


@dataclass(frozen=True)
class NewMessage:
    recipient: str
    provider_message_id: str | None = None
    provider_status: str | None = None
    error_code: str | None = None


@dataclass
class Registered:
    accepted: int = 0
    invalid_rows: list = field(default_factory=list)
    duplicate_rows: list = field(default_factory=list)
    early_callbacks: int = 0

    def add(self, other, offset):
        self.accepted += other.accepted
        self.invalid_rows += [offset + row for row in other.invalid_rows]
        self.duplicate_rows += [offset + row for row in other.duplicate_rows]
        self.early_callbacks += other.early_callbacks


class UnknownStatus(ValueError):
    pass


def resolve(provider, provider_status):
    """(status, rank) for a provider status; a message without one starts QUEUED."""
    if provider_status is None:
        return statuses.QUEUED, 0
    known = provider.status(provider_status)
    if known is None:
        names = ", ".join(status.name for status in provider.statuses)
        raise UnknownStatus(f"{provider_status!r} is not a {provider.label} status; "
                            f"expected one of {names}")
    return known.status, known.rank


def _registered_ids(connection, provider_message_ids):
    found = set()
    ids = list(provider_message_ids)
    for start in range(0, len(ids), 500):
        found.update(connection.execute(
            sa.select(messages.c.provider_message_id)
            .where(messages.c.provider_message_id.in_(ids[start:start + 500]))).scalars())
    return found


def register(connection, campaign_id, provider, default_region, items, at, source="api",
             early_callbacks=True):
    """Insert ``items`` (a list of NewMessage) into a campaign. Returns which rows (0-based)
    were accepted, held invalid numbers or repeated a message already known. With
    ``early_callbacks`` the callbacks that came before the campaign's messages are applied
    too, which must be the transaction's last step (see events.apply_pending): an import of
    many batches in one transaction passes False and applies them after its last batch."""
    result = Registered()
    prefer_index_scans(connection)
    known = _registered_ids(connection, {i.provider_message_id for i in items
                                         if i.provider_message_id})
    seen_recipients = set()
    rows, status_events, tally = [], [], {}
    for index, item in enumerate(items):
        message_id = item.provider_message_id
        if message_id:
            if message_id in known:
                result.duplicate_rows.append(index)
                continue
            known.add(message_id)
        number = phones.normalise(item.recipient, default_region)
        if not message_id:
            key = number or (item.recipient or "").strip()
            if key in seen_recipients:
                result.duplicate_rows.append(index)
                continue
            seen_recipients.add(key)
        if number is None:
            result.invalid_rows.append(index)
            row = {"recipient": (item.recipient or "").strip()[:64], "status": statuses.ERROR,
                   "provider_status": None, "error_code": statuses.INVALID_NUMBER,
                   "rank": statuses.INVALID_NUMBER_RANK}
        else:
            status, rank = resolve(provider, item.provider_status)
            row = {"recipient": number, "status": status,
                   "provider_status": item.provider_status,
                   "error_code": item.error_code if status == statuses.ERROR else None,
                   "rank": rank}
            if item.provider_status and message_id:
                status_events.append({
                    "provider": provider.name, "source": source,
                    "provider_message_id": message_id, "provider_status": item.provider_status,
                    "error_code": row["error_code"], "outcome": events.APPLIED,
                    "params": json.dumps({"status": item.provider_status,
                                          "error_code": item.error_code}),
                    "received_at": at})
        row.update(campaign_id=campaign_id, provider_message_id=message_id, updated_at=at)
        rows.append(row)
        key = (row["status"], row["provider_status"], row["error_code"])
        tally[key] = tally.get(key, 0) + 1

    insert_many(connection, messages, rows)
    insert_many(connection, StatusEvent.__table__, status_events)
    for key, count in tally.items():
        counters.add(connection, campaign_id, counters.bucket(*key), count)
    result.accepted = len(rows) - len(result.invalid_rows)
    if early_callbacks:
        result.early_callbacks = events.apply_pending(connection, provider, campaign_id)
    return result
