"""Admin pages: users, teams, and the audit log."""

import json
from datetime import datetime
from datetime import time
from datetime import timezone

import sqlalchemy as sa
from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from portal import access
from portal import accounts
from portal import audit
from portal.db import db
from portal.models import ROLES
from portal.models import AuditEvent
from portal.models import Team
from portal.models import User

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE = 50
LAST_PAGE = 100_000


def _teams():
    return db.session.execute(sa.select(Team).order_by(Team.name)).scalars().all()


def _users_page(problem=None, values=None, status=200):
    users = db.session.execute(sa.select(User).order_by(User.email)).scalars().all()
    return render_template("admin/users.html", users=users, teams=_teams(), roles=ROLES,
                           problem=problem, values=values or {}), status


@bp.get("/users")
@access.requires("admin")
def users():
    return _users_page()


@bp.post("/users")
@access.requires("admin")
def create_user():
    values = {name: request.form.get(name, "") for name in ("email", "team", "role")}
    team = access.get_by_id(Team, access.parse_id(values["team"]))
    try:
        if team is None:
            raise accounts.AccountProblem("Choose the user's team.")
        user = accounts.create_user(db.session, values["email"], team, values["role"],
                                    request.form.get("password", ""))
    except accounts.AccountProblem as problem:
        db.session.rollback()
        return _users_page(str(problem), values, 400)
    audit.record(db.session, "user.create", email=user.email, role=user.role, team=team.name)
    db.session.commit()
    flash(f"{user.email} can now sign in as {user.role} of {team.name}.", "done")
    return redirect(url_for("admin.users"), 303)


@bp.post("/users/<int:user_id>/active")
@access.requires("admin")
def set_active(user_id):
    user = access.get_by_id(User, user_id)
    if user is None:
        return _users_page(f"There is no user {user_id}.", status=404)
    active = request.form.get("active") == "1"
    if user.id == current_user.id and not active:
        return _users_page("You cannot disable your own account.", status=400)
    accounts.set_active(user, active)
    audit.record(db.session, "user.enable" if active else "user.disable", email=user.email)
    db.session.commit()
    flash(f"{user.email} is {'enabled' if active else 'disabled'}.", "done")
    return redirect(url_for("admin.users"), 303)


@bp.get("/teams")
@access.requires("admin")
def teams():
    counts = dict(db.session.execute(
        sa.select(User.team_id, sa.func.count()).group_by(User.team_id)).all())
    return render_template("admin/teams.html", teams=_teams(), members=counts, problem=None)


@bp.post("/teams")
@access.requires("admin")
def create_team():
    try:
        team = accounts.create_team(db.session, request.form.get("name", ""))
    except accounts.AccountProblem as problem:
        db.session.rollback()
        return render_template("admin/teams.html", teams=_teams(), members={},
                               problem=str(problem)), 400
    audit.record(db.session, "team.create", team=team.name)
    db.session.commit()
    flash(f"Team {team.name} is made; add its people on the Users page.", "done")
    return redirect(url_for("admin.teams"), 303)


def _day(value, end=False):
    """A date from a filter field, as the start (or end) of that day in UTC; None if empty."""
    if not value:
        return None
    day = datetime.strptime(value, "%Y-%m-%d").date()
    return datetime.combine(day, time.max if end else time.min, tzinfo=timezone.utc)


@bp.get("/audit", endpoint="audit")
@access.requires("admin")
def audit_log():
    filters = {name: request.args.get(name, "").strip()
               for name in ("action", "actor", "campaign", "from", "to")}
    query = sa.select(AuditEvent)
    problem = None
    if filters["action"]:
        query = query.where(AuditEvent.action == filters["action"])
    if filters["actor"]:
        query = query.where(AuditEvent.actor.ilike(f"%{filters['actor']}%"))
    if filters["campaign"]:
        campaign_id = access.parse_id(filters["campaign"])
        if campaign_id is not None:
            query = query.where(AuditEvent.campaign_id == campaign_id)
        else:
            problem = "The campaign filter takes a campaign number, like 12."
    try:
        since, until = _day(filters["from"]), _day(filters["to"], end=True)
    except ValueError:
        since = until = None
        problem = "Dates are written YYYY-MM-DD, like 2026-12-03."
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at <= until)
    try:
        page = min(max(1, int(request.args.get("page", 1))), LAST_PAGE)
    except ValueError:
        page = 1
    events = db.session.execute(query.order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE)
                                .offset((page - 1) * AUDIT_PAGE)).scalars().all()
    actions = db.session.execute(sa.select(AuditEvent.action).distinct()
                                 .order_by(AuditEvent.action)).scalars().all()
    return render_template("admin/audit.html", events=events, filters=filters, page=page,
                           more=len(events) == AUDIT_PAGE, actions=actions, problem=problem,
                           details=lambda event: json.loads(event.details)), \
        400 if problem else 200

