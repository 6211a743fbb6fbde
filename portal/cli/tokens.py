"""``flask --app portal tokens create|list|revoke``: API tokens for a team."""

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from portal import audit
from portal import tokens
from portal.db import db
from portal.models import ApiToken
from portal.models import Team


@click.group("tokens")
def tokens_group():
    """Make, list and revoke API tokens."""


@tokens_group.command("create")
@click.option("--team", "team_name", required=True, help="The team whose campaigns it reaches.")
@click.option("--name", required=True, help="What the token is for, e.g. 'sender prod'.")
@with_appcontext
def create_command(team_name, name):
    """Make a token; it is printed once and only its hash is kept."""
    team = db.session.execute(sa.select(Team).where(Team.name == team_name)).scalar()
    if team is None:
        names = ", ".join(db.session.execute(sa.select(Team.name)).scalars()) or "none yet"
        raise click.UsageError(f"There is no team {team_name!r}. Teams: {names}.")
    row, token = tokens.create(db.session, team, name)
    audit.record(db.session, "token.create", token_id=row.id, name=name, team=team.name)
    db.session.commit()
    click.echo(f"Token {row.id} for team {team.name!r} ({name}). Copy it now; it is not "
               f"shown again:\n{token}")


@tokens_group.command("list")
@with_appcontext
def list_command():
    """Every token, with its team and whether it is revoked (never the token itself)."""
    rows = db.session.execute(sa.select(ApiToken).order_by(ApiToken.id)).scalars().all()
    if not rows:
        click.echo("No tokens yet. Make one with: flask --app portal tokens create "
                   "--team TEAM --name NAME")
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
        click.echo(f"{row.id}\t{row.team.name}\t{row.name}\t{state}\t"
                   f"created {row.created_at:%Y-%m-%d}")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def revoke_command(token_id):
    """Revoke token TOKEN_ID (see 'tokens list'); calls with it get 401 from now on."""
    row = tokens.revoke(db.session, token_id)
    if row is None:
        raise click.UsageError(f"There is no token {token_id}; 'tokens list' shows them.")
    audit.record(db.session, "token.revoke", token_id=token_id, name=row.name)
    db.session.commit()
    click.echo(f"Token {token_id} ({row.name}) is revoked.")
