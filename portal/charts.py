"""The numbers behind the campaign page's charts, and where their marks go.

``errors_by_kind`` sums the error lines the page already has; ``final_over_time`` counts,
in SQL, the messages that reached a final status in each interval since the campaign was
sent; ``delivery_geometry`` turns those counts into coordinates for templates/charts.html.
"""

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from portal import statuses
from portal.db import epoch_seconds
from portal.models import CampaignCount
from portal.models import Message

messages = Message.__table__
counts = CampaignCount.__table__

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
# Interval widths a person reads without effort. Each is at most 2.5 times the one before,
# so the narrowest that gives at most MAX_POINTS intervals gives at least 24.
NICE_WIDTHS = (1, 2, 5, 10, 15, 30,
               MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
               HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
               DAY, 2 * DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY)
MAX_POINTS = 60
UNITS = ((DAY, "d"), (HOUR, "h"), (MINUTE, "min"), (1, "s"))


@dataclass(frozen=True)
class KindTotal:
    """The errors of one kind in a campaign: their count and share of all its messages."""

    kind: str
    label: str
    count: int
    share: float


def errors_by_kind(error_lines):
    """The campaign's error lines (``CampaignStats.errors``) summed by error kind, largest
    first."""
    totals = {}
    for line in error_lines:
        kind = line.detail.kind if line.detail else "unknown"
        count, share = totals.get(kind, (0, 0.0))
        totals[kind] = (count + line.count, share + line.share)
    labels = {name: kind.label for name, kind in statuses.ERROR_KINDS.items()}
    kinds = [KindTotal(kind, labels.get(kind, kind), count, share)
             for kind, (count, share) in totals.items()]
    return sorted(kinds, key=lambda total: (-total.count, total.label))


def interval_width(span_seconds):
    """The nice interval, in seconds, that cuts ``span_seconds`` into at most MAX_POINTS."""
    for width in NICE_WIDTHS:
        if span_seconds // width + 1 <= MAX_POINTS:
            return width
    months = -(-(span_seconds + 1) // (MAX_POINTS * 30 * DAY))
    return months * 30 * DAY


def duration_label(seconds, unit_seconds=MINUTE):
    """``seconds`` as a person says it: "2 h", "1 h 30 min", "45 s". Zero is named in the
    unit of ``unit_seconds``: "0 min"."""
    if seconds == 0:
        return "0 " + next(name for size, name in UNITS if unit_seconds >= size)
    parts = []
    for size, name in UNITS:
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {name}")
    return " ".join(parts[:2])


def offset_label(seconds, unit_seconds=MINUTE):
    """A time after sending: "+0 min", "+2 h", "+1 h 30 min"."""
    return "+" + duration_label(seconds, unit_seconds)


@dataclass(frozen=True)
class Interval:
    """One interval after sending, ``start`` to ``end`` seconds, and how many messages had
    reached SENT and ERROR before its end."""

    start: int
    end: int
    sent: int
    error: int

    @property
    def final(self):
        return self.sent + self.error


@dataclass(frozen=True)
class FinalOverTime:
    """Messages that reached a final status, cumulatively, in intervals of ``width``
    seconds from ``sent_at``. ``intervals`` is empty when none has yet."""

    sent_at: datetime
    width: int
    intervals: list
    recipients: int
    latest: datetime = None  # the last time a message became final

    @property
    def sent(self):
        return self.intervals[-1].sent if self.intervals else 0

    @property
    def error(self):
        return self.intervals[-1].error if self.intervals else 0

    @property
    def final(self):
        return self.sent + self.error

    def moment(self, offset):
        """The UTC time ``offset`` seconds after sending."""
        return self.sent_at + timedelta(seconds=offset)

    def label(self, offset):
        return offset_label(offset, self.width)

    @property
    def width_label(self):
        return duration_label(self.width)

    @property
    def latest_offset(self):
        """Seconds from sending to the last final status (never negative)."""
        return max(0, int((self.latest - self.sent_at).total_seconds()))

    def clock(self, offset):
        """The time of ``offset`` as the table shows it: seconds only when intervals are
        shorter than a minute, the date only when the chart spans days."""
        moment = self.moment(offset)
        if self.width < MINUTE:
            return moment.strftime("%H:%M:%S")
        if self.intervals and self.intervals[-1].end >= DAY:
            return moment.strftime("%Y-%m-%d %H:%M")
        return moment.strftime("%H:%M")


def _latest_final_update(connection, campaign_id):
    # One max per status: each is a single probe of ix_messages_campaign_status_updated.
    latest = [sa.select(sa.func.max(messages.c.updated_at))
              .where(messages.c.campaign_id == campaign_id, messages.c.status == status)
              .scalar_subquery() for status in statuses.FINAL]
    moments = [moment for moment in connection.execute(sa.select(*latest)).one() if moment]
    return max(moments, default=None)


def final_over_time(connection, campaign):
    """How many of the campaign's messages had reached SENT and ERROR, cumulatively, at
    the end of each interval since ``campaign.sent_at``. Counted per interval in SQL, over
    the (campaign, status, updated_at) index; a message counts from its last status change,
    which for a final message is when it became final. Changes dated before sending count
    in the first interval."""
    recipients = connection.execute(
        sa.select(sa.func.coalesce(sa.func.sum(counts.c.count), 0))
        .where(counts.c.campaign_id == campaign.id)).scalar_one()
    latest = _latest_final_update(connection, campaign.id)
    if latest is None:
        return FinalOverTime(campaign.sent_at, MINUTE, [], int(recipients))

    span = max(0, int((latest - campaign.sent_at).total_seconds()))
    width = interval_width(span)
    start = int(campaign.sent_at.timestamp())
    offset = epoch_seconds(messages.c.updated_at, connection.dialect.name) - start
    # Grouped in a subquery: PostgreSQL cannot match a GROUP BY expression that holds bound
    # parameters to the same expression in the SELECT list.
    per_message = (sa.select(messages.c.status, (offset // width).label("interval"))
                   .where(messages.c.campaign_id == campaign.id,
                          messages.c.status.in_(statuses.FINAL))
                   .subquery())
    rows = connection.execute(
        sa.select(per_message.c.status, per_message.c.interval, sa.func.count())
        .group_by(per_message.c.status, per_message.c.interval))

    new = {}  # {interval index: {status: messages that became final in it}}
    for status, index, count in rows:
        per_status = new.setdefault(max(0, int(index)), dict.fromkeys(statuses.FINAL, 0))
        per_status[status] += count
    # A message may have become final after the latest moment read above.
    last = max(span // width, max(new, default=0))
    intervals = []
    sent = error = 0
    for index in range(last + 1):
        sent += new.get(index, {}).get(statuses.SENT, 0)
        error += new.get(index, {}).get(statuses.ERROR, 0)
        intervals.append(Interval(index * width, (index + 1) * width, sent, error))
    return FinalOverTime(campaign.sent_at, width, intervals, int(recipients), latest)


def nice_step(largest, most_ticks):
    """A round step (1, 2 or 5 times a power of ten) that cuts 0..``largest`` into at most
    ``most_ticks`` parts."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if largest / (step * factor) <= most_ticks:
                return step * factor
        step *= 10


def compact_count(value):
    """A count short enough for the narrow axis margin: "2,500", "250k", "1.5M". Axis
    values are round, so the short form loses nothing."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1_000:g}k"
    return f"{value:,}"


@dataclass(frozen=True)
class Geometry:
    """Where the delivery chart's marks go, in the units of its viewBox."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    sent_points: str
    error_points: str
    x_ticks: list  # [(x, label)]
    y_ticks: list  # [(y, label)]
    recipients_y: float


CHART_WIDTH, CHART_HEIGHT = 480, 260
# The plot area inside the viewBox; the margins hold the axis labels.
LEFT, RIGHT, TOP, BOTTOM = 64, 464, 28, 206


def delivery_geometry(over_time):
    """Coordinates for ``over_time`` (which has at least one interval): x is time since
    sending, y the messages final so far, up to every recipient of the campaign."""
    end = over_time.intervals[-1].end
    highest = max(over_time.recipients, over_time.final, 1)

    def x(offset):
        return round(LEFT + (RIGHT - LEFT) * offset / end, 1)

    def y(value):
        return round(BOTTOM - (BOTTOM - TOP) * value / highest, 1)

    def points(values):
        return " ".join(f"{x(offset)},{y(value)}" for offset, value in values)

    ends = [interval.end for interval in over_time.intervals]
    sent = zip([0] + ends, [0] + [interval.sent for interval in over_time.intervals])
    error = zip([0] + ends, [0] + [interval.error for interval in over_time.intervals])

    # At most five time labels, so that they stay apart on a phone.
    time_step = next((width for width in NICE_WIDTHS if end / width <= 4), -(-end // 4))
    x_ticks = [(x(offset), offset_label(offset, time_step))
               for offset in range(0, end + 1, time_step)]
    count_step = nice_step(highest, 4)
    # Leave out a tick that would crowd the recipients line at the top.
    y_ticks = [(y(value), compact_count(value)) for value in range(0, highest + 1, count_step)
               if value == 0 or highest - value >= count_step / 3]
    return Geometry(CHART_WIDTH, CHART_HEIGHT, LEFT, RIGHT, TOP, BOTTOM,
                    points(sent), points(error), x_ticks, y_ticks, y(highest))
