"""A campaign's page: how its messages fared, why some failed, and what to do."""

from flask import Blueprint
from flask import current_app
from flask import request

from portal import access
from portal import observability
from portal import stats
from portal import statuses
from portal.db import db
from portal.plugin_manager import current_plugins
from portal.views import partials

bp = Blueprint("campaigns", __name__)

# Polling starts fast, slows while nothing changes or the server is slow, and stops when
# nothing is in flight.
POLL_FIRST = 2
POLL_LONGEST = 30
SLOW_SERVER_SECONDS = 0.25


def next_poll(campaign_stats):
    """Seconds until the stats part asks again, or None to stop polling."""
    if not campaign_stats.in_flight:
        return None
    try:
        previous = int(request.args.get("every", POLL_FIRST))
    except ValueError:
        previous = POLL_FIRST
    previous = min(max(previous, POLL_FIRST), POLL_LONGEST)
    unchanged = request.args.get("seen") == campaign_stats.fingerprint
    slow = observability.request_seconds() > SLOW_SERVER_SECONDS
    if unchanged or slow:
        return min(previous * 2, POLL_LONGEST)
    return POLL_FIRST


def _context(campaign):
    plugins = current_plugins()
    hours = current_app.config["PORTAL_QUEUED_WARNING_HOURS"]
    contact = current_app.config["PORTAL_SUPPORT_CONTACT"]
    campaign_stats = stats.campaign_stats(db.session.connection(), campaign, plugins, hours)
    return {
        "campaign": campaign,
        "stats": campaign_stats,
        "provider": plugins.providers().get(campaign.provider),
        "portal_statuses": statuses.portal_statuses(contact, hours),
        "error_kinds": statuses.ERROR_KINDS,
        "exporters": plugins.exporters(),
        "support_contact": contact,
        "queued_warning_hours": hours,
        "poll_every": next_poll(campaign_stats),
    }


@bp.get("/campaigns/<int:campaign_id>")
@bp.get("/campaigns/<int:campaign_id>/stats", endpoint="stats_part")
@access.requires("viewer")
def show(campaign_id):
    """The page; its stats part polls the /stats URL, which opened directly is the page."""
    campaign = access.visible_campaign(campaign_id)
    return partials.render("campaign.html", "partials/campaign_stats.html",
                           **_context(campaign))
