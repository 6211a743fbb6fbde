"""``flask --app portal users …`` and ``teams …``: people and teams from the command line."""

import sys

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from portal import accounts
from portal import audit
from portal.db import db
from portal.models import ROLES
from portal.models import Team
from portal.models import User


def _fail(problem):
    db.session.rollback()
    raise click.UsageError(str(problem))


@click.group("users")
def users_group():
    """Make, list and disable the people who sign in."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--team", "team_name", required=True, help="The team's name.")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_user_command(email, team_name, role, password_stdin):
    """Make a user; the password is asked for (or read from standard input)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        team = accounts.find_team(db.session, team_name)
        user = accounts.create_user(db.session, email, team, role, password)
    except accounts.AccountProblem as problem:
        _fail(problem)
    audit.record(db.session, "user.create", email=user.email, role=role, team=team.name)
    db.session.commit()
    click.echo(f"{user.email} can sign in as {role} of {team.name}.")


@users_group.command("list")
@with_appcontext
def list_users_command():
    """Every user with team, role and state."""
    users = db.session.execute(sa.select(User).order_by(User.email)).scalars().all()
    if not users:
        click.echo("No users yet. Make one with: flask --app portal users create --email E "
                   "--team T --role admin")
    for user in users:
        state = "active" if user.active else "disabled"
        click.echo(f"{user.email}\t{user.team.name}\t{user.role}\t{state}")


@users_group.command("disable")
@click.option("--email", required=True)
@with_appcontext
def disable_user_command(email):
    """Stop a user from signing in (their sessions end at their next request)."""
    try:
        user = accounts.find_user(db.session, email)
    except accounts.AccountProblem as problem:
        _fail(problem)
    accounts.set_active(user, False)
    audit.record(db.session, "user.disable", email=user.email)
    db.session.commit()
    click.echo(f"{user.email} is disabled.")


@click.group("teams")
def teams_group():
    """Make and list teams."""


@teams_group.command("create")
@click.argument("name")
@with_appcontext
def create_team_command(name):
    """Make team NAME."""
    try:
        team = accounts.create_team(db.session, name)
    except accounts.AccountProblem as problem:
        _fail(problem)
    audit.record(db.session, "team.create", team=team.name)
    db.session.commit()
    click.echo(f"Team {team.name} is made.")


@teams_group.command("list")
@with_appcontext
def list_teams_command():
    """Every team with its number of people."""
    rows = db.session.execute(
        sa.select(Team.name, sa.func.count(User.id)).outerjoin(User, User.team_id == Team.id)
        .group_by(Team.id, Team.name).order_by(Team.name)).all()
    if not rows:
        click.echo("No teams yet. Make one with: flask --app portal teams create NAME")
    for name, members in rows:
        click.echo(f"{name}\t{members} user(s)")
