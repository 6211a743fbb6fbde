"""API tokens on the portal: a manager makes and revokes their team's tokens."""

import sqlalchemy as sa
from flask import Blueprint
from flask import abort
from flask import render_template
from flask import request
from flask_login import current_user

from portal import access
from portal import audit
from portal import tokens
from portal.db import db
from portal.models import ApiToken
from portal.models import Team

bp = Blueprint("tokens", __name__)


def _visible():
    query = sa.select(ApiToken).order_by(ApiToken.id.desc())
    if not current_user.is_admin:
        query = query.where(ApiToken.team_id == current_user.team_id)
    return db.session.execute(query).scalars().all()


def _page(new_token=None, problem=None, status=200):
    teams = db.session.execute(sa.select(Team).order_by(Team.name)).scalars().all()
    if not current_user.is_admin:
        teams = [team for team in teams if team.id == current_user.team_id]
    return render_template("tokens.html", tokens=_visible(), teams=teams, new_token=new_token,
                           problem=problem), status


@bp.get("/tokens")
@access.requires("manager")
def index():
    return _page()


@bp.post("/tokens")
@access.requires("manager")
def create():
    name = request.form.get("name", "").strip()
    team_id = request.form.get("team", "")
    team = access.get_by_id(Team, access.parse_id(team_id))
    if team is None or not (current_user.is_admin or team.id == current_user.team_id):
        return _page(problem="Choose your team.", status=400)
    if not name or len(name) > 120:
        return _page(problem="Name the token (what uses it), in 1 to 120 characters.",
                     status=400)
    row, token = tokens.create(db.session, team, name)
    audit.record(db.session, "token.create", token_id=row.id, name=name, team=team.name)
    db.session.commit()
    return _page(new_token=token, status=201)


@bp.post("/tokens/<int:token_id>/revoke")
@access.requires("manager")
def revoke(token_id):
    row = access.get_by_id(ApiToken, token_id)
    if row is None or not (current_user.is_admin or row.team_id == current_user.team_id):
        abort(404, f"There is no token {token_id}.")
    tokens.revoke(db.session, token_id)
    audit.record(db.session, "token.revoke", token_id=token_id, name=row.name)
    db.session.commit()
    return _page()
