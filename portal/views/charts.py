"""The campaign page's charts that need their own query: served as a partial that the page
loads after it has shown, so a campaign of a million messages keeps a fast page."""

import sqlalchemy as sa
from flask import Blueprint
from flask import make_response
from flask import render_template

from portal import access
from portal import charts
from portal import stats
from portal.db import db
from portal.views import partials

bp = Blueprint("charts", __name__)
# The errors-by-kind chart sums the lines the campaign page already has: no query needed.
bp.add_app_template_global(charts.errors_by_kind)
# While messages are in flight the chart asks for itself again this often: it counts the
# messages, which for a campaign of a million takes a good part of a second.
REFRESH_SECONDS = 30


@bp.get("/campaigns/<int:campaign_id>/delivery-chart")
@access.requires("viewer")
def delivery(campaign_id):
    """Messages that reached a final status over time; opened directly, a page of its own."""
    campaign = access.visible_campaign(campaign_id)
    over_time = charts.final_over_time(db.session.connection(), campaign)
    geometry = charts.delivery_geometry(over_time) if over_time.intervals else None
    in_flight = db.session.execute(sa.select(stats.in_flight_clause(campaign.id))).scalar()
    response = make_response(render_template(
        "partials/delivery_chart.html", campaign=campaign, over_time=over_time,
        geometry=geometry, standalone=not partials.wants_partial(),
        refresh_every=REFRESH_SECONDS if in_flight else None))
    response.vary.add("HX-Request")
    return response
