"""API tokens: random, shown once, stored as a SHA-256 hash (a token has 256 bits of
entropy, so a fast hash is enough), owned by a team, revocable."""

import hashlib
import secrets

import sqlalchemy as sa

from portal.db import utcnow
from portal.models import ApiToken

PREFIX = "smsp_"


def digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create(session, team, name):
    """Make a token for ``team``; return (ApiToken, the token text, shown only now)."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(team_id=team.id, name=name, token_hash=digest(token))
    session.add(row)
    session.flush()
    return row, token


def find(session, token):
    """The live ApiToken for ``token``, or None (unknown or revoked)."""
    if not token or not token.startswith(PREFIX):
        return None
    row = session.execute(sa.select(ApiToken).where(
        ApiToken.token_hash == digest(token))).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke(session, token_id):
    row = session.get(ApiToken, token_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
