"""Tables. Messages are many and hot (callbacks update them thousands of times a second),
so they carry only what a report row or a status decision needs; per-campaign counts live
in their own small table and move in the same transaction as every status change (see
portal/counters.py)."""

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

    redacted_at = sa.Column(UTCDateTime, nullable=True)

    team = db.relationship(Team)


UNSENT = "status != 'SENT'"


def unsent(status_column):
    """The condition of the unsent index, for a query that should use it: SQLite uses a
    partial index only when the query repeats its condition, literal and all."""
    return status_column != sa.literal_column("'SENT'")


class Message(db.Model):
    """One recipient of a campaign. ``rank`` is the precedence of the current status (from
    the provider plugin), kept so that an update can refuse a regression in the same
    statement that applies it."""

    __tablename__ = "messages"
    __table_args__ = (
        # Reports page through a campaign by id, all rows or only the errors; sync and the
        # simulator, through the messages in flight. Nothing looks SENT messages up by
        # status and id, and they are most of them: left out, the index stays small and is
        # not touched when a SENT message is updated.
        sa.Index("ix_messages_campaign", "campaign_id", "id"),
        sa.Index("ix_messages_campaign_unsent", "campaign_id", "status", "id",
                 sqlite_where=sa.text(UNSENT), postgresql_where=sa.text(UNSENT)),
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
    Empty strings stand for "none" so the four columns can form the primary key. New
    messages are added by whoever inserts them; a status change moves the counts by a
    trigger on messages (migration 0004), so no writer can forget to."""

    __tablename__ = "campaign_counts"

    campaign_id = sa.Column(sa.Integer, sa.ForeignKey("campaigns.id"), primary_key=True)
    status = sa.Column(sa.String(8), primary_key=True)
    provider_status = sa.Column(sa.String(24), primary_key=True, default="")
    error_code = sa.Column(sa.String(32), primary_key=True, default="")
    count = sa.Column(sa.BigInteger, nullable=False, default=0)


PENDING = "outcome = 'pending'"


def is_pending(outcome_column):
    """The condition of the pending index, for a query that should use it, spelled as the
    index spells it (see unsent)."""
    return outcome_column == sa.literal_column("'pending'")


class StatusEvent(db.Model):
    """Everything a provider or an import told us about a message's status, kept raw in the
    transaction that applies it, so that state can be rebuilt from this log.

    ``outcome`` is ``applied`` (it moved the message), ``ignored`` (outranked, or a
    duplicate), ``pending`` (its message is not registered yet; applied when it is) or
    ``rejected`` (a forged or malformed callback, never applied)."""

    __tablename__ = "status_events"
    __table_args__ = (
        sa.Index("ix_status_events_message", "provider_message_id", "outcome"),
        # The few events waiting for their message; kept small, so a callback's INSERT
        # rarely touches it.
        sa.Index("ix_status_events_pending", "id", sqlite_where=sa.text(PENDING),
                 postgresql_where=sa.text(PENDING)),
    )

    id = sa.Column(BigId, primary_key=True)
    provider = sa.Column(sa.String(32), nullable=False)
    source = sa.Column(sa.String(12), nullable=False)
    provider_message_id = sa.Column(sa.String(64), nullable=True)
    provider_status = sa.Column(sa.String(24), nullable=True)
    error_code = sa.Column(sa.String(32), nullable=True)
    params = sa.Column(sa.Text, nullable=False, default="{}")
    signature_ok = sa.Column(sa.Boolean, nullable=True)
    outcome = sa.Column(sa.String(12), nullable=False)
    reason = sa.Column(sa.String(300), nullable=True)
    received_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)


class ApiToken(db.Model):
    """A bearer token of the JSON API. Only a hash of the token is stored; the token itself
    is shown once, when it is made."""

    __tablename__ = "api_tokens"

    id = sa.Column(sa.Integer, primary_key=True)
    team_id = sa.Column(sa.Integer, sa.ForeignKey("teams.id"), nullable=False)
    name = sa.Column(sa.String(120), nullable=False)
    token_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at = sa.Column(UTCDateTime, nullable=True)
    last_used_at = sa.Column(UTCDateTime, nullable=True)

    team = db.relationship(Team)


class Job(db.Model):
    """Long work started from a campaign's page, with its progress, so that any web worker
    can show how far it has come. ``kind`` says which: ``sync`` (asking the provider for
    missing statuses) or ``report`` (writing a delivery report to a file to download).
    ``heartbeat_at`` is when the process running it last marked it as alive."""

    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_campaign", "campaign_id", "id"),)

    id = sa.Column(sa.Integer, primary_key=True)
    kind = sa.Column(sa.String(20), nullable=False)
    campaign_id = sa.Column(sa.Integer, sa.ForeignKey("campaigns.id"), nullable=True)
    state = sa.Column(sa.String(10), nullable=False, default="running")
    done = sa.Column(sa.Integer, nullable=False, default=0)
    total = sa.Column(sa.Integer, nullable=False, default=0)
    message = sa.Column(sa.String(500), nullable=False, default="")
    started_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    finished_at = sa.Column(UTCDateTime, nullable=True)
    heartbeat_at = sa.Column(UTCDateTime, nullable=True, default=utcnow)


ROLES = ("viewer", "manager", "admin")


class User(db.Model):
    """A person who signs in. ``role`` is viewer (read and download their team's
    campaigns), manager (also import, sync and tokens for their team) or admin (the whole
    portal). Passwords are stored as salted scrypt hashes."""

    __tablename__ = "users"

    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(254), nullable=False, unique=True)
    password_hash = sa.Column(sa.String(255), nullable=False)
    team_id = sa.Column(sa.Integer, sa.ForeignKey("teams.id"), nullable=False)
    role = sa.Column(sa.String(10), nullable=False)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    last_sign_in_at = sa.Column(UTCDateTime, nullable=True)
    # Part of the id kept in the session cookie: raising it (sign-out, disabling) ends every
    # session made before, copies of the cookie included.
    session_version = sa.Column(sa.Integer, nullable=False, default=0)

    team = db.relationship(Team)

    # What Flask-Login asks of a user object.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self):
        return self.active

    def get_id(self):
        return f"{self.id}.{self.session_version}"

    def at_least(self, role):
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def is_admin(self):
        return self.role == "admin"


class AuditEvent(db.Model):
    """Who did what, when: every report download and API export, every sign-in, and every
    change to users, teams and tokens."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_at", "at"),
        sa.Index("ix_audit_events_action_at", "action", "at"),
        sa.Index("ix_audit_events_campaign", "campaign_id", "at"),
    )

    id = sa.Column(BigId, primary_key=True)
    at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    action = sa.Column(sa.String(40), nullable=False)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("users.id"), nullable=True)
    token_id = sa.Column(sa.Integer, sa.ForeignKey("api_tokens.id"), nullable=True)
    actor = sa.Column(sa.String(254), nullable=False, default="")
    campaign_id = sa.Column(sa.Integer, sa.ForeignKey("campaigns.id"), nullable=True)
    address = sa.Column(sa.String(64), nullable=False, default="")
    details = sa.Column(sa.Text, nullable=False, default="{}")


class SignInFailure(db.Model):
    """A failed sign-in, kept for the throttle (in the database, so every web worker on
    every machine sees the same count)."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        sa.Index("ix_sign_in_failures_email", "email", "at"),
        sa.Index("ix_sign_in_failures_address", "address", "at"),
    )

    id = sa.Column(BigId, primary_key=True)
    email = sa.Column(sa.String(254), nullable=False)
    address = sa.Column(sa.String(64), nullable=False)
    at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
