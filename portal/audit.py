"""The audit log: who did what, when, from where. Written in the caller's session (or on
its own connection from a report's writer thread)."""

import json

from flask import g
from flask import has_request_context
from flask import request
from flask_login import current_user

from portal.db import utcnow
from portal.models import AuditEvent


def actor():
    """(user id, token id, label) of whoever makes the current request."""
    if not has_request_context():
        return None, None, "command line"
    token = g.get("api_token")
    if token is not None:
        return None, token.id, f"token {token.id} ({token.name})"
    if current_user.is_authenticated:
        return current_user.id, None, current_user.email
    return None, None, "anonymous"


def address():
    return (request.remote_addr or "")[:64] if has_request_context() else ""


def event(action, campaign_id=None, who=None, **details):
    """An AuditEvent for the current request (or for ``who``: a (user id, token id, label)
    tuple captured earlier)."""
    user_id, token_id, label = who or actor()
    return AuditEvent(action=action, user_id=user_id, token_id=token_id, actor=label[:254],
                      campaign_id=campaign_id, address=address(), at=utcnow(),
                      details=json.dumps(details, sort_keys=True, default=str))


def record(session, action, campaign_id=None, **details):
    session.add(event(action, campaign_id, **details))


def insert(connection, audit_event):
    """Write an AuditEvent on a Core connection, in that connection's transaction."""
    columns = ("at", "action", "user_id", "token_id", "actor", "campaign_id", "address",
               "details")
    connection.execute(AuditEvent.__table__.insert().values(
        {name: getattr(audit_event, name) for name in columns}))
