"""Who may reach what. Every view says how it is guarded; a request for a view that says
nothing is refused, and tests/test_access.py fails the build for such a route.

- ``requires(role)``: a signed-in, active user with at least that role (viewer < manager <
  admin); campaigns are further limited to the user's team (see ``visible_campaign``).
- ``public``: no check (sign-in, health check).
- ``token_checked``: the JSON API, which checks its bearer token itself.
- ``signature_checked``: provider callbacks, which the provider plugin verifies.
"""

import functools
import re

from flask import abort
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user

from portal.db import db
from portal.models import ROLES
from portal.models import Campaign

PUBLIC = "public"
TOKEN = "token"
SIGNATURE = "signature"
ROLE_NAMES = {"viewer": "a viewer", "manager": "a manager", "admin": "an admin"}


def _mark(view, access):
    view.portal_access = access
    return view


def public(view):
    return _mark(view, PUBLIC)


def token_checked(view):
    return _mark(view, TOKEN)


def signature_checked(view):
    return _mark(view, SIGNATURE)


def requires(role):
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                return sign_in_first()
            if not current_user.at_least(role):
                abort(403, f"This needs {ROLE_NAMES[role]} of the team; you are signed in as "
                           f"{ROLE_NAMES[current_user.role]}. Ask an admin if you need more.")
            return view(*args, **kwargs)

        return _mark(guarded, role)

    return decorate


def sign_in_first():
    target = url_for("auth.sign_in", next=request.full_path.rstrip("?"))
    if request.headers.get("HX-Request"):
        # An HTMX swap cannot follow a redirect to a whole page; ask htmx to go there.
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


def check_marked(app):
    """Refuse any request whose view has no access rule: a route added without one is
    closed, not open."""

    @app.before_request
    def _every_route_is_guarded():
        endpoint = request.endpoint
        if endpoint is None or endpoint == "static":  # 404 and 405 answers, static files
            return None
        if getattr(app.view_functions.get(endpoint), "portal_access", None):
            return None
        abort(500, f"The page {request.path} has no access rule, so it is closed.")


def campaign_query():
    """Campaigns the signed-in user may see: all for an admin, else their team's."""
    query = db.select(Campaign)
    if not current_user.is_admin:
        query = query.where(Campaign.team_id == current_user.team_id)
    return query


# Ids are 32-bit on PostgreSQL's integer columns; a larger one names nothing.
LARGEST_ID = 2**31 - 1
ID_TEXT = re.compile(r"[0-9]{1,10}")


def parse_id(text):
    """The id a form field or query argument names, or None for anything that is not one."""
    text = (text or "").strip()
    if not ID_TEXT.fullmatch(text) or not 1 <= int(text) <= LARGEST_ID:
        return None
    return int(text)


def get_by_id(model, object_id):
    """``session.get`` that treats an id out of the database's range as missing."""
    if not isinstance(object_id, int) or not 1 <= object_id <= LARGEST_ID:
        return None
    return db.session.get(model, object_id)


def visible_campaign(campaign_id):
    """The campaign, or a 404 that reads the same whether it does not exist or belongs to
    another team, so nothing about other teams leaks."""
    campaign = get_by_id(Campaign, campaign_id)
    if campaign is None or not (current_user.is_admin
                                or campaign.team_id == current_user.team_id):
        abort(404, f"There is no campaign {campaign_id}. It may have been removed, or the "
                   f"link may be mistyped; the dashboard lists every campaign you can see.")
    return campaign
