"""Retention: after a configured number of days, a campaign's phone numbers are redacted.
Its counts, statuses and errors stay; the raw callback parameters, which hold numbers too,
are replaced by a note."""

from datetime import timedelta

import sqlalchemy as sa

from portal.db import utcnow
from portal.models import Campaign
from portal.models import Message
from portal.models import StatusEvent

REDACTED = "[redacted]"


def due(session, days, now=None):
    """Campaigns sent more than ``days`` ago whose numbers are still there."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    return session.execute(sa.select(Campaign).where(
        Campaign.sent_at < cutoff, Campaign.redacted_at.is_(None))
        .order_by(Campaign.id)).scalars().all()


def redact(connection, campaign_id, now=None):
    """Redact one campaign's numbers; return how many messages were touched."""
    message_ids = sa.select(Message.provider_message_id).where(
        Message.campaign_id == campaign_id, Message.provider_message_id.is_not(None))
    connection.execute(sa.update(StatusEvent).where(
        StatusEvent.provider_message_id.in_(message_ids)).values(params='{"redacted": true}'))
    touched = connection.execute(sa.update(Message).where(
        Message.campaign_id == campaign_id).values(recipient=REDACTED)).rowcount
    connection.execute(sa.update(Campaign).where(Campaign.id == campaign_id).values(
        redacted_at=now or utcnow()))
    return touched
