"""Per-campaign counts by (status, provider status, error), and the one way a message's
status changes. The counts always equal a count of the rows: whoever inserts messages adds
them to the counts in the same transaction, and every change of a message's status moves
them by the database's own trigger."""

from dataclasses import dataclass

import sqlalchemy as sa

from portal.db import DriverStatement
from portal.db import upsert_add
from portal.models import CampaignCount
from portal.models import Message

counts = CampaignCount.__table__
messages = Message.__table__


def key(status, provider_status, error_code):
    """A bucket as a tuple, "none" written as an empty string."""
    return (status, provider_status or "", error_code or "")


def bucket(status, provider_status, error_code):
    status, provider_status, error_code = key(status, provider_status, error_code)
    return {"status": status, "provider_status": provider_status, "error_code": error_code}


def add(connection, campaign_id, key, amount):
    upsert_add(connection, counts, {"campaign_id": campaign_id, **key}, "count", amount)


@dataclass(frozen=True)
class Change:
    """A new status for a message, as a provider reported it."""

    status: str
    provider_status: str | None
    error_code: str | None
    rank: int
    at: object


def outranks(change, rank, error_code):
    """Precedence is a total order: the rank first, then the error code, so a message ends
    in the same state whatever order its updates came in."""
    return (change.rank, change.error_code or "") > (rank, error_code or "")


# outranks() as the WHERE clause of the one statement that moves a message: deciding and
# moving at once, racing writers cannot make a message regress. The counts follow in the
# same transaction, moved by the database (the trigger of migration 0004).
# Known shortcoming: PostgreSQL compares the error codes of a tie in the database's
# collation, Python by code point; they agree for digits (all of Twilio's codes).
MOVE = (
    messages.update()
    .where(messages.c.provider_message_id == sa.bindparam("message"),
           sa.or_(messages.c.rank < sa.bindparam("new_rank"),
                  sa.and_(messages.c.rank == sa.bindparam("new_rank"),
                          sa.func.coalesce(messages.c.error_code, "")
                          < sa.bindparam("new_error_order"))))
    .values(status=sa.bindparam("new_status"),
            provider_status=sa.bindparam("new_provider_status"),
            error_code=sa.bindparam("new_error_code"), rank=sa.bindparam("new_rank"),
            updated_at=sa.bindparam("new_at"))
)


def apply_change(connection, provider_message_id, change):
    """Move the message to ``change`` if it outranks what the message has; return True when
    it did."""
    return DriverStatement.once(MOVE, connection.dialect).execute(
        connection, message=provider_message_id, new_rank=change.rank,
        new_error_order=change.error_code or "", new_status=change.status,
        new_provider_status=change.provider_status, new_error_code=change.error_code,
        new_at=change.at) == 1


def recount(connection, campaign_id):
    """The counts as the message rows say they are: {bucket tuple: count}."""
    rows = connection.execute(
        sa.select(messages.c.status, messages.c.provider_status, messages.c.error_code,
                  sa.func.count())
        .where(messages.c.campaign_id == campaign_id)
        .group_by(messages.c.status, messages.c.provider_status, messages.c.error_code)
    )
    return {(status, provider_status or "", error_code or ""): n
            for status, provider_status, error_code, n in rows}


def stored(connection, campaign_id):
    rows = connection.execute(
        sa.select(counts.c.status, counts.c.provider_status, counts.c.error_code,
                  counts.c.count)
        .where(counts.c.campaign_id == campaign_id)
    )
    return {(status, provider_status, error_code): n
            for status, provider_status, error_code, n in rows if n}


@dataclass(frozen=True)
class Difference:
    campaign_id: int
    bucket: tuple
    stored: int
    actual: int


def check(connection, campaign_id, repair=False):
    """Compare the stored counts of a campaign with a count of its rows; with ``repair``,
    replace the stored counts by the real ones. Returns the differences found."""
    actual = recount(connection, campaign_id)
    kept = stored(connection, campaign_id)
    differences = [
        Difference(campaign_id, key, kept.get(key, 0), actual.get(key, 0))
        for key in sorted(set(actual) | set(kept))
        if kept.get(key, 0) != actual.get(key, 0)
    ]
    if repair and differences:
        connection.execute(counts.delete().where(counts.c.campaign_id == campaign_id))
        if actual:
            connection.execute(counts.insert(), [
                {"campaign_id": campaign_id, "status": s, "provider_status": p,
                 "error_code": e, "count": n}
                for (s, p, e), n in actual.items()
            ])
    return differences
