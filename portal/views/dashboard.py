"""The landing page: every campaign, newest first, searchable and paged."""

import math
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint
from flask import request
from flask import url_for

from portal import access
from portal import stats
from portal import statuses
from portal.db import db
from portal.models import Campaign
from portal.views import partials

bp = Blueprint("dashboard", __name__)

PAGE_SIZE = 25
SORTS = {
    "newest": (Campaign.sent_at.desc(), Campaign.id.desc()),
    "oldest": (Campaign.sent_at.asc(), Campaign.id.asc()),
    "name": (sa.func.lower(Campaign.name).asc(), Campaign.id.asc()),
}
STATES = ("all", "in_flight", "finished")


@dataclass(frozen=True)
class Filters:
    q: str
    state: str
    sort: str
    page: int

    @classmethod
    def from_args(cls, args):
        state = args.get("state", "all")
        sort = args.get("sort", "newest")
        try:
            page = min(max(1, int(args.get("page", 1))), 1_000_000)
        except ValueError:
            page = 1
        return cls(q=args.get("q", "").strip()[:200],
                   state=state if state in STATES else "all",
                   sort=sort if sort in SORTS else "newest",
                   page=page)

    def url(self, **changes):
        values = {"q": self.q, "state": self.state, "sort": self.sort, "page": self.page}
        values.update(changes)
        defaults = {"q": "", "state": "all", "sort": "newest", "page": 1}
        kept = {key: value for key, value in values.items() if value != defaults[key]}
        return url_for("dashboard.index", **kept)


@dataclass(frozen=True)
class Row:
    campaign: Campaign
    totals: dict

    @property
    def total(self):
        return sum(self.totals.values())

    @property
    def in_flight(self):
        return sum(self.totals[status] for status in statuses.IN_FLIGHT)

    @property
    def success_rate(self):
        return stats.success_rate(self.totals[statuses.SENT], self.totals[statuses.ERROR])


@bp.get("/")
@access.requires("viewer")
def index():
    filters = Filters.from_args(request.args)
    query = access.campaign_query()
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Campaign.name.ilike(f"%{escaped}%", escape="\\"))
    if filters.state == "in_flight":
        query = query.where(stats.in_flight_clause(Campaign.id))
    elif filters.state == "finished":
        query = query.where(~stats.in_flight_clause(Campaign.id))

    matching = db.session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    pages = max(1, math.ceil(matching / PAGE_SIZE))
    page = min(filters.page, pages)
    campaigns = db.session.execute(
        query.order_by(*SORTS[filters.sort]).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).scalars().all()
    totals = stats.status_totals(db.session.connection(), [c.id for c in campaigns])
    rows = [Row(campaign, totals[campaign.id]) for campaign in campaigns]
    any_campaign = matching > 0 or db.session.execute(
        access.campaign_query().limit(1)).first() is not None

    return partials.render(
        "dashboard.html", "partials/campaign_table.html",
        rows=rows, filters=Filters(filters.q, filters.state, filters.sort, page),
        matching=matching, pages=pages, any_campaign=any_campaign,
        sorts=SORTS, states=STATES,
    )
