"""Tables. Messages are many and hot (callbacks update them thousands of times a second),
so they carry only what a report row or a status decision needs; per-campaign counts live
in their own small table and move in the same transaction as every status change."""

import sqlalchemy as sa

from portal.db import BigId
from portal.db import UTCDateTime
from portal.db import db
from portal.db import utcnow


class Team(db.Model):
    __tablename__ = "teams"

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(120), nullable=False, unique=True)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)


class Campaign(db.Model):
    __tablename__ = "campaigns"
    __table_args__ = (
        sa.Index("ix_campaigns_sent_at", "sent_at"),
        sa.Index("ix_campaigns_team_sent_at", "team_id", "sent_at"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    team_id = sa.Column(sa.Integer, sa.ForeignKey("teams.id"), nullable=False)
    name = sa.Column(sa.String(200), nullable=False)
    provider = sa.Column(sa.String(32), nullable=False)
    sent_at = sa.Column(UTCDateTime, nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)

    team = db.relationship(Team)


class Message(db.Model):
    """One recipient of a campaign. ``rank`` is the precedence of the current status (from
    the provider plugin), kept so that an update can refuse a regression in the same
    statement that applies it."""

    __tablename__ = "messages"
    __table_args__ = (
        # Reports page through a campaign by id, all rows or one status.
        sa.Index("ix_messages_campaign", "campaign_id", "id"),
        sa.Index("ix_messages_campaign_status", "campaign_id", "status", "id"),
        # The stuck-in-queue warning counts old QUEUED rows of one campaign.
        sa.Index("ix_messages_campaign_status_updated", "campaign_id", "status", "updated_at"),
    )

    id = sa.Column(BigId, primary_key=True)
    campaign_id = sa.Column(sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False)
    recipient = sa.Column(sa.String(64), nullable=False)
    # Provider ids are assumed unique across providers (Twilio's all start with SM or MM).
    provider_message_id = sa.Column(sa.String(64), nullable=True, unique=True)
    status = sa.Column(sa.String(8), nullable=False)
    provider_status = sa.Column(sa.String(24), nullable=True)
    error_code = sa.Column(sa.String(32), nullable=True)
    rank = sa.Column(sa.Integer, nullable=False, default=0)
    updated_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)


class CampaignCount(db.Model):
    """How many messages of a campaign are in one (status, provider status, error) bucket.
    Empty strings stand for "none" so the four columns can form the primary key."""

    __tablename__ = "campaign_counts"

    campaign_id = sa.Column(sa.Integer, sa.ForeignKey("campaigns.id"), primary_key=True)
    status = sa.Column(sa.String(8), primary_key=True)
    provider_status = sa.Column(sa.String(24), primary_key=True, default="")
    error_code = sa.Column(sa.String(32), primary_key=True, default="")
    count = sa.Column(sa.BigInteger, nullable=False, default=0)
