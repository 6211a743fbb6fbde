"""The numbers the dashboard and the campaign page show, read from the per-campaign counts
(never by scanning a campaign's messages)."""

import zlib
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from portal import statuses
from portal.db import utcnow
from portal.models import CampaignCount
from portal.models import Message

counts = CampaignCount.__table__
messages = Message.__table__


def in_flight_clause(campaign_id_column):
    """SQL that is true when the campaign has a message still in flight: one indexed probe
    of its counts."""
    return sa.exists().where(
        counts.c.campaign_id == campaign_id_column,
        counts.c.status.in_(statuses.IN_FLIGHT),
        counts.c.count > 0,
    )


def share(part, whole):
    return part / whole if whole else 0.0


def success_rate(sent, error):
    """SENT among the messages that reached a final status; None before any did."""
    final = sent + error
    return sent / final if final else None


@dataclass(frozen=True)
class Line:
    """One row of a breakdown: a status, a provider status or an error, with its count."""

    key: str
    count: int
    share: float
    detail: object = None


@dataclass(frozen=True)
class CampaignStats:
    total: int
    by_status: dict
    provider_statuses: list
    errors: list
    stuck_queued: int
    fingerprint: str

    @property
    def in_flight(self):
        return sum(self.by_status[status] for status in statuses.IN_FLIGHT)

    @property
    def success_rate(self):
        return success_rate(self.by_status[statuses.SENT], self.by_status[statuses.ERROR])


def campaign_stats(connection, campaign, plugins, queued_warning_hours):
    rows = connection.execute(
        sa.select(counts.c.status, counts.c.provider_status, counts.c.error_code,
                  counts.c.count)
        .where(counts.c.campaign_id == campaign.id, counts.c.count != 0)
    ).all()
    total = sum(row.count for row in rows)
    by_status = dict.fromkeys(statuses.ORDER, 0)
    by_provider_status = {}
    by_error = {}
    for row in rows:
        by_status[row.status] = by_status.get(row.status, 0) + row.count
        if row.provider_status:
            key = (row.status, row.provider_status)
            by_provider_status[key] = by_provider_status.get(key, 0) + row.count
        if row.error_code:
            by_error[row.error_code] = by_error.get(row.error_code, 0) + row.count

    provider = plugins.providers().get(campaign.provider)
    provider_lines = []
    for (status, name), count in by_provider_status.items():
        detail = provider.status(name) if provider else None
        provider_lines.append(Line(name, count, share(count, total), detail))
    rank = {status: index for index, status in enumerate(statuses.ORDER)}
    provider_lines.sort(key=lambda line: (
        rank.get(line.detail.status if line.detail else "", 9),
        line.detail.rank if line.detail else 0))

    error_lines = [
        Line(code, count, share(count, total), plugins.interpret_error(campaign.provider, code))
        for code, count in by_error.items()
    ]
    error_lines.sort(key=lambda line: (-line.count, line.key))

    stuck = 0
    if by_status[statuses.QUEUED]:
        cutoff = utcnow() - timedelta(hours=queued_warning_hours)
        stuck = connection.execute(
            sa.select(sa.func.count()).select_from(messages).where(
                messages.c.campaign_id == campaign.id,
                messages.c.status == statuses.QUEUED,
                messages.c.updated_at < cutoff,
            )
        ).scalar_one()

    fingerprint = format(zlib.crc32(repr(sorted(
        (r.status, r.provider_status, r.error_code, r.count) for r in rows)).encode()), "x")
    return CampaignStats(total, by_status, provider_lines, error_lines, stuck, fingerprint)


def status_totals(connection, campaign_ids):
    """{campaign id: {status: count}} for the campaigns of one dashboard page."""
    totals = {campaign_id: dict.fromkeys(statuses.ORDER, 0) for campaign_id in campaign_ids}
    if not campaign_ids:
        return totals
    rows = connection.execute(
        sa.select(counts.c.campaign_id, counts.c.status, sa.func.sum(counts.c.count))
        .where(counts.c.campaign_id.in_(campaign_ids))
        .group_by(counts.c.campaign_id, counts.c.status)
    )
    for campaign_id, status, count in rows:
        totals[campaign_id][status] = int(count or 0)
    return totals
