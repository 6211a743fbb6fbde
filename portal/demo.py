"""Realistic demo data: Singapore-heavy recipients with some international and some invalid
numbers, and the mix of Twilio statuses and error codes a real campaign shows."""

from datetime import timedelta

import sqlalchemy as sa

from portal import counters
from portal import passwords
from portal import statuses
from portal.db import insert_many
from portal.db import utcnow
from portal.models import Campaign
from portal.models import Message
from portal.models import StatusEvent
from portal.models import Team
from portal.models import User

TEAMS = ("Public Health Office", "Transport Alerts")

# (provider status, error code, weight) for a campaign whose sending has finished.
FINISHED_MIX = (
    ("delivered", None, 8400), ("sent", None, 700),
    ("undelivered", "30003", 260), ("undelivered", "30005", 120),
    ("undelivered", "30006", 90), ("undelivered", "30007", 40), ("undelivered", "30008", 60),
    ("failed", "21211", 30), ("failed", "21614", 60), ("failed", "21610", 25),
    ("failed", "30004", 15), ("failed", "21408", 5), ("canceled", None, 5),
    ("failed", "30032", 5),
)
# While a campaign is still going out, part of it has not reached a final status.
IN_FLIGHT_MIX = FINISHED_MIX + (("queued", None, 900), ("sending", None, 400),
                                ("accepted", None, 100))
# A campaign that has only just gone out: most of it still on the way.
LIVE_MIX = (("queued", None, 50), ("sending", None, 20), ("accepted", None, 10),
            ("delivered", None, 15), ("sent", None, 5))
LIVE_NAME = "Live demo: road works alert"
LIVE_SIZE = 1_500
INVALID_SHARE = 0.02
INTERNATIONAL_SHARE = 0.06

CAMPAIGNS = (
    # name, team, recipients, days ago, in flight
    ("National screening reminder", 0, 100_000, 12, False),
    ("Flu vaccination invitation", 0, 20_000, 30, False),
    ("Dengue cluster alert: Bedok", 0, 4_800, 45, False),
    ("Clinic appointment confirmations", 0, 1_200, 3, False),
    ("MRT line closure this weekend", 1, 8_000, 6, False),
    ("Bus route 36 diversion", 1, 950, 20, False),
    ("Road works on Orchard Road", 1, 2_400, 0.12, True),
)

INVALID_SAMPLES = ("+65 1234", "6590", "+6512345678", "000", "+999123456789", "81234",
                   "12345678901234567", "+44 20 123")


def _number(rng):
    if rng.random() < INTERNATIONAL_SHARE:
        return rng.choice((
            lambda: f"+601{rng.choice('2679')}{rng.randrange(10**6, 10**7)}",    # Malaysia
            lambda: f"+91{rng.choice('6789')}{rng.randrange(10**8, 10**9)}",     # India
            lambda: f"+447{rng.choice('4579')}{rng.randrange(10**7, 10**8)}",    # UK
            lambda: f"+1415{rng.randrange(200, 999)}{rng.randrange(1000, 9999)}",  # US
        ))()
    return f"+65{rng.choice('89')}{rng.randrange(10**6, 10**7):07d}"


def _outcomes(mix, rng, size):
    choices = [(status, code) for status, code, _ in mix]
    weights = [weight for _, _, weight in mix]
    return rng.choices(choices, weights=weights, k=size)


def add_campaign(connection, provider, team_id, name, size, sent_at, mix, rng, progress=None,
                 batch=20_000):
    """Insert one campaign of ``size`` recipients with its counts; return its id."""
    twilio = provider.by_name
    campaign_id = connection.execute(
        sa.insert(Campaign).values(team_id=team_id, name=name, provider=provider.name,
                                   sent_at=sent_at, created_at=sent_at)
        .returning(Campaign.id)).scalar_one()
    tally = {}
    rows, status_events = [], []
    now = utcnow()
    for provider_status, error_code in _outcomes(mix, rng, size):
        if rng.random() < INVALID_SHARE:
            recipient, provider_status, error_code, message_id = (
                rng.choice(INVALID_SAMPLES), None, statuses.INVALID_NUMBER, None)
            status, rank = statuses.ERROR, statuses.INVALID_NUMBER_RANK
        else:
            recipient = _number(rng)
            message_id = f"SM{rng.getrandbits(128):032x}"
            status, rank = twilio[provider_status].status, twilio[provider_status].rank
        if status == statuses.QUEUED and rng.random() < 0.15:
            updated_at = sent_at + timedelta(seconds=rng.randrange(5, 60))
        else:
            updated_at = min(now, sent_at + timedelta(seconds=rng.randrange(2, 3 * 3600)))
        if provider_status:
            status_events.append({
                "provider": provider.name, "source": "demo", "provider_message_id": message_id,
                "provider_status": provider_status, "error_code": error_code,
                "params": "{}", "outcome": "applied", "received_at": updated_at})
        rows.append({"campaign_id": campaign_id, "recipient": recipient,
                     "provider_message_id": message_id, "status": status,
                     "provider_status": provider_status, "error_code": error_code,
                     "rank": rank, "updated_at": updated_at})
        key = (status, provider_status or "", error_code or "")
        tally[key] = tally.get(key, 0) + 1
        if len(rows) == batch:
            _insert(connection, rows, status_events, progress)
            rows, status_events = [], []
    _insert(connection, rows, status_events, progress)
    for (status, provider_status, error_code), count in tally.items():
        counters.add(connection, campaign_id,
                     counters.bucket(status, provider_status, error_code), count)
    return campaign_id


def _insert(connection, rows, status_events, progress):
    """Messages, and the status events that explain their statuses (so that the state can
    be rebuilt from the log, as for real campaigns)."""
    insert_many(connection, Message.__table__, rows)
    insert_many(connection, StatusEvent.__table__, status_events)
    if progress:
        progress.update(len(rows))


def ensure_teams(connection):
    ids = []
    for name in TEAMS:
        team_id = connection.execute(sa.select(Team.id).where(Team.name == name)).scalar()
        if team_id is None:
            team_id = connection.execute(
                sa.insert(Team).values(name=name, created_at=utcnow())
                .returning(Team.id)).scalar_one()
        ids.append(team_id)
    return ids


# Demo accounts only: anyone reading this file knows the password.
DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS = (("admin@portal.demo", "admin", 0), ("manager@health.demo", "manager", 0),
              ("viewer@health.demo", "viewer", 0), ("manager@transport.demo", "manager", 1),
              ("viewer@transport.demo", "viewer", 1))


def ensure_users(connection, team_ids):
    """The demo accounts, each made once (the slow hash only when one is missing)."""
    existing = set(connection.execute(sa.select(User.email)).scalars())
    missing = [user for user in DEMO_USERS if user[0] not in existing]
    password_hash = passwords.hash_password(DEMO_PASSWORD) if missing else None
    for email, role, team in missing:
        connection.execute(sa.insert(User).values(
            email=email, role=role, team_id=team_ids[team], password_hash=password_hash,
            active=True, created_at=utcnow()))


def is_loaded(connection):
    return connection.execute(
        sa.select(Campaign.id).where(Campaign.name == CAMPAIGNS[0][0])).first() is not None
