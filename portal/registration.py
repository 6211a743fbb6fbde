"""Registering a campaign's messages: numbers normalised, invalid ones recorded as ERROR with
the invalid-number error, and the counts moved in the same transaction."""

from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa

from portal import counters
from portal import phones
from portal import statuses
from portal.models import Message


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


class UnknownStatus(ValueError):
    pass


def resolve(provider, provider_status, error_code):
    """(status, rank) for a provider status; a message without one starts QUEUED."""
    if provider_status is None:
        return statuses.QUEUED, 0
    known = provider.status(provider_status)
    if known is None:
        names = ", ".join(status.name for status in provider.statuses)
        raise UnknownStatus(f"{provider_status!r} is not a {provider.label} status; "
                            f"expected one of {names}")
    return known.status, known.rank


def register(connection, campaign_id, provider, default_region, items, at):
    """Insert ``items`` (NewMessage) into a campaign; return what was accepted and which rows
    (0-based) held invalid numbers. The caller owns the transaction."""
    result = Registered()
    rows = []
    tally = {}
    for index, item in enumerate(items):
        number = phones.normalise(item.recipient, default_region)
        if number is None:
            result.invalid_rows.append(index)
            row = {"recipient": (item.recipient or "").strip()[:64], "status": statuses.ERROR,
                   "provider_status": None, "error_code": statuses.INVALID_NUMBER,
                   "rank": statuses.INVALID_NUMBER_RANK}
        else:
            status, rank = resolve(provider, item.provider_status, item.error_code)
            row = {"recipient": number, "status": status, "provider_status": item.provider_status,
                   "error_code": item.error_code if status == statuses.ERROR else None,
                   "rank": rank}
        row.update(campaign_id=campaign_id, provider_message_id=item.provider_message_id,
                   updated_at=at)
        rows.append(row)
        key = (row["status"], row["provider_status"], row["error_code"])
        tally[key] = tally.get(key, 0) + 1
    if rows:
        connection.execute(sa.insert(Message), rows)
    for key, count in tally.items():
        counters.add(connection, campaign_id, counters.bucket(*key), count)
    result.accepted = len(rows) - len(result.invalid_rows)
    return result
