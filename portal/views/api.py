"""The JSON API for the system that sends the messages: campaigns in, messages in, stats
out. Every answer is JSON, errors included, and says what was wrong."""

import logging
from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint
from flask import current_app
from flask import g
from flask import jsonify
from flask import request
from werkzeug.exceptions import HTTPException

from portal import access
from portal import audit
from portal import registration
from portal import stats
from portal import tokens
from portal.db import db
from portal.db import utcnow
from portal.db import write_transaction
from portal.models import Campaign
from portal.plugin_manager import current_plugins

bp = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger(__name__)

MAX_BATCH = 10_000
MAX_BODY_BYTES = 8 * 1024 * 1024


class ApiError(Exception):
    def __init__(self, status, problem, details=None):
        super().__init__(problem)
        self.status, self.problem, self.details = status, problem, details


@bp.errorhandler(ApiError)
def api_error(error):
    body = {"error": error.problem}
    if error.details:
        body["details"] = error.details
    return jsonify(body), error.status


@bp.errorhandler(HTTPException)
def http_error(error):
    return jsonify({"error": error.description}), error.code


@bp.before_request
def authenticate():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "send an API token as 'Authorization: Bearer <token>'; an admin "
                            "makes one with 'flask --app portal tokens create'")
    found = tokens.find(db.session, token.strip())
    if found is None:
        raise ApiError(401, "this API token is unknown or has been revoked")
    g.api_token = found
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, f"the request body is over {MAX_BODY_BYTES // 2**20} MB; send "
                            f"at most {MAX_BATCH:,} messages a call")


def json_body():
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "the body must be JSON (Content-Type: application/json)")
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def team_campaign(campaign_id):
    """The campaign, if it belongs to the token's team; another team's is a 404 too."""
    campaign = access.get_by_id(Campaign, campaign_id)
    if campaign is None or campaign.team_id != g.api_token.team_id:
        raise ApiError(404, f"there is no campaign {campaign_id}")
    return campaign


def parse_time(value, name):
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be an ISO 8601 time, like 2026-12-03T09:30:00+08:00")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{name} {value[:40]!r} is not an ISO 8601 time; write it like "
                            f"2026-12-03T09:30:00+08:00") from None
    if moment.tzinfo is None:
        raise ApiError(400, f"{name} must say its time zone, like 2026-12-03T09:30:00Z")
    return moment


@bp.post("/campaigns")
@access.token_checked
def create_campaign():
    body = json_body()
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ApiError(400, "name must be a text of 1 to 200 characters")
    provider = body.get("provider")
    known = current_plugins().providers()
    if provider not in known:
        raise ApiError(400, f"provider must be one of: {', '.join(sorted(known))}")
    sent_at = parse_time(body.get("sent_at", utcnow().isoformat()), "sent_at")
    campaign = Campaign(team_id=g.api_token.team_id, name=name.strip(), provider=provider,
                        sent_at=sent_at)
    db.session.add(campaign)
    db.session.commit()
    log.info("campaign created campaign=%s via api token=%s", campaign.id, g.api_token.id,
             extra={"campaign": campaign.id})
    return jsonify({"id": campaign.id, "name": campaign.name}), 201


def validate_messages(items, provider):
    """Every problem in the batch, by row and field; an empty list when it can be stored."""
    problems = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append({"row": index, "problem": "each message must be a JSON object"})
            continue
        recipient = item.get("recipient")
        if not isinstance(recipient, str) or not recipient.strip():
            problems.append({"row": index, "field": "recipient",
                             "problem": "recipient is required: the phone number, as text"})
        message_id = item.get("provider_message_id")
        if message_id is not None and (not isinstance(message_id, str) or not message_id
                                       or len(message_id) > 64):
            problems.append({"row": index, "field": "provider_message_id",
                             "problem": "provider_message_id must be a text of 1 to 64 "
                                        "characters"})
        status = item.get("status")
        if status is not None and (not isinstance(status, str) or not provider.status(status)):
            names = ", ".join(s.name for s in provider.statuses)
            problems.append({"row": index, "field": "status",
                             "problem": f"status must be a {provider.label} status: {names}"})
        code = item.get("error_code")
        if code is not None and not (isinstance(code, (str, int)) and 0 < len(str(code)) <= 32):
            problems.append({"row": index, "field": "error_code",
                             "problem": "error_code must be a code of 1 to 32 characters"})
        if len(problems) >= 100:
            break
    return problems


@bp.post("/campaigns/<int:campaign_id>/messages")
@access.token_checked
def add_messages(campaign_id):
    campaign = team_campaign(campaign_id)
    items = json_body().get("messages")
    if not isinstance(items, list) or not items:
        raise ApiError(400, "messages must be a non-empty list of "
                            "{\"recipient\": …, \"provider_message_id\": …}")
    if len(items) > MAX_BATCH:
        raise ApiError(413, f"{len(items):,} messages is over the limit of {MAX_BATCH:,} a "
                            f"call; split the batch")
    provider = current_plugins().providers()[campaign.provider]
    problems = validate_messages(items, provider)
    if problems:
        raise ApiError(400, "nothing was stored: fix these messages and send the batch again",
                       problems)
    new = [registration.NewMessage(item["recipient"], item.get("provider_message_id"),
                                   item.get("status"),
                                   str(item["error_code"]) if item.get("error_code") else None)
           for item in items]
    with write_transaction(db.engine) as connection:
        result = registration.register(connection, campaign.id, provider,
                                       current_app.config["PORTAL_DEFAULT_REGION"], new,
                                       utcnow(), source="api")
    log.info("messages registered campaign=%s accepted=%s invalid=%s duplicates=%s",
             campaign.id, result.accepted, len(result.invalid_rows),
             len(result.duplicate_rows), extra={"campaign": campaign.id})
    return jsonify({
        "accepted": result.accepted,
        "invalid_numbers": {"count": len(result.invalid_rows), "rows": result.invalid_rows},
        "duplicates": {"count": len(result.duplicate_rows), "rows": result.duplicate_rows},
        "early_callbacks_applied": result.early_callbacks,
    }), 201


def stats_json(campaign):
    config = current_app.config
    numbers = stats.campaign_stats(db.session.connection(), campaign, current_plugins(),
                                   config["PORTAL_QUEUED_WARNING_HOURS"])
    return {
        "id": campaign.id,
        "name": campaign.name,
        "provider": campaign.provider,
        "sent_at": campaign.sent_at.isoformat(),
        "total": numbers.total,
        "statuses": numbers.by_status,
        "in_flight": numbers.in_flight,
        "success_rate": numbers.success_rate,
        "provider_statuses": {line.key: line.count for line in numbers.provider_statuses},
        "errors": [{"code": line.key, "count": line.count, "title": line.detail.title,
                    "kind": line.detail.kind, "action": line.detail.action}
                   for line in numbers.errors],
        "queued_too_long": numbers.stuck_queued,
    }


@bp.get("/campaigns/<int:campaign_id>/stats")
@access.token_checked
def campaign_stats(campaign_id):
    campaign = team_campaign(campaign_id)
    audit.record(db.session, "api.stats", campaign.id)
    db.session.commit()
    return jsonify(stats_json(campaign))


@bp.get("/campaigns")
@access.token_checked
def list_campaigns():
    rows = db.session.execute(sa.select(Campaign).where(
        Campaign.team_id == g.api_token.team_id).order_by(Campaign.sent_at.desc())
        .limit(100)).scalars()
    return jsonify({"campaigns": [{"id": c.id, "name": c.name, "provider": c.provider,
                                   "sent_at": c.sent_at.isoformat()} for c in rows]})
