"""Status callbacks from providers: the plugin verifies and reads them, the core records and
applies them."""

import logging

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request

from portal import access
from portal.db import DriverTransaction
from portal.db import db
from portal.db import utcnow
from portal.ingestion import events
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


# The answers to accepted callbacks, built once: they are nearly every request here.
ACCEPTED_ANSWERS = {
    outcome: (f'{{"outcome": "{outcome}", "reason": ""}}', 200,
              {"Content-Type": "application/json"})
    for outcome in (events.APPLIED, events.IGNORED, events.PENDING)
}


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
    at = utcnow()
    verdict = plugins.verify_callback(provider.name, public_url(), form, request.headers,
                                      current_app.config)
    if verdict is None:
        return answer(404, "unknown-provider", f"no plugin verifies {provider.name} callbacks")
    if not verdict.ok:
        _keep_rejected(events.Received(provider.name, "callback", form, at, signature_ok=False),
                       "refused", verdict.reason)
        return answer(403, "refused", verdict.reason)

    received = events.Received(provider.name, "callback", form, at, signature_ok=True)
    try:
        update = plugins.parse_callback(provider.name, form)
    except CallbackRejected as error:
        _keep_rejected(received, "malformed", str(error))
        return answer(400, "malformed", str(error))

    return ACCEPTED_ANSWERS[events.receive_alone(db.engine, provider, received, update)]


def _keep_rejected(received, what, reason):
    """One log line for a callback refused or unreadable (never the token, never a full
    number), and the callback kept in the event log, marked rejected."""
    form = received.params
    fields = {"provider": received.provider, "message_id": form.get("MessageSid", "")[:40],
              "to": masked(form.get("To", ""))}
    log.warning(f"callback {what} provider=%s message=%s to=%s reason=%s",
                fields["provider"], fields["message_id"], fields["to"], reason, extra=fields)
    with DriverTransaction(db.engine) as transaction:
        events.record(transaction, received, outcome=events.REJECTED, reason=reason)
