"""Status callbacks from providers: the plugin verifies and reads them, the core records and
applies them."""

import logging

import sqlalchemy as sa
from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request

from portal import access
from portal.db import db
from portal.db import utcnow
from portal.db import write_transaction
from portal.ingestion import applier
from portal.ingestion import events
from portal.models import StatusEvent
from portal.phones import masked
from portal.plugin_manager import current_plugins
from portal.providers import CallbackRejected

bp = Blueprint("callbacks", __name__)
log = logging.getLogger(__name__)


def public_url():
    """The URL the provider called. Behind a proxy Flask sees another scheme, host or port,
    so a configured public base URL wins; otherwise X-Forwarded-* headers are believed only
    from the number of proxies configured (see create_app)."""
    base = current_app.config["PORTAL_PUBLIC_URL"]
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return base + request.path + (f"?{query}" if query else "")


# The answer to nearly every callback, built once.
RECEIVED_ANSWER = ('{"outcome": "received", "reason": ""}', 200,
                   {"Content-Type": "application/json"})


def answer(status, outcome, reason=""):
    return jsonify({"outcome": outcome, "reason": reason}), status


@bp.post("/callbacks/<provider_name>")
@access.signature_checked
def receive(provider_name):
    plugins = current_plugins()
    provider = plugins.providers().get(provider_name)
    if provider is None:
        return answer(404, "unknown-provider", f"no plugin describes provider {provider_name!r}")
    form = request.form.to_dict()
    received = events.Received(provider.name, "callback", form, utcnow())
    fields = {"provider": provider.name, "message_id": form.get("MessageSid", "")[:40],
              "to": masked(form.get("To", ""))}

    verdict = plugins.verify_callback(provider.name, public_url(), form, request.headers,
                                      current_app.config)
    if verdict is None:
        return answer(404, "unknown-provider", f"no plugin verifies {provider.name} callbacks")
    if not verdict.ok:
        log.warning("callback refused provider=%s message=%s to=%s reason=%s",
                    fields["provider"], fields["message_id"], fields["to"], verdict.reason,
                    extra=fields)
        with write_transaction(db.engine) as connection:
            events.record(connection, events.Received(
                provider.name, "callback", form, received.at, signature_ok=False),
                outcome=events.REJECTED, reason=verdict.reason)
        return answer(403, "refused", verdict.reason)

    received = events.Received(provider.name, "callback", form, received.at, signature_ok=True)
    try:
        update = plugins.parse_callback(provider.name, form)
    except CallbackRejected as error:
        log.warning("callback malformed provider=%s message=%s reason=%s",
                    fields["provider"], fields["message_id"], error, extra=fields)
        with write_transaction(db.engine) as connection:
            events.record(connection, received, outcome=events.REJECTED, reason=str(error))
        return answer(400, "malformed", str(error))

    # One short transaction: the write lock is held for the INSERT alone.
    event_id = events.record_alone(db.engine, received, update, outcome=events.RECEIVED)
    if current_app.config.get("PORTAL_APPLY_INLINE"):
        applier.drain(db.engine, plugins.providers())
        return answer(200, _outcome(event_id))
    current_app.extensions["portal.applier"].wake()
    return RECEIVED_ANSWER


def _outcome(event_id):
    return db.session.execute(sa.select(StatusEvent.outcome).where(
        StatusEvent.id == event_id)).scalar_one()
