"""``flask --app portal simulate``: play Twilio for the in-flight demo campaign, sending its
messages' status callbacks over HTTP to the portal, so a person can watch it progress."""

import random

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from portal import simulator
from portal import stats
from portal.db import db
from portal.models import Campaign


@click.command("simulate")
@click.option("--url", default="http://127.0.0.1:5000/callbacks/twilio", show_default=True,
              help="The portal's Twilio callback URL.")
@click.option("--campaign", "campaign_id", type=int,
              help="The campaign to move (default: the newest one still in flight).")
@click.option("--per-second", type=float, default=8, show_default=True,
              help="Callbacks a second.")
@click.option("--seed", type=int, default=None, help="Random seed, for a repeatable run.")
@with_appcontext
def simulate_command(url, campaign_id, per_second, seed):
    """Send realistic signed callbacks, late, twice and out of order, for every message of a
    campaign that is still in flight."""
    token = current_app.config["PORTAL_TWILIO_AUTH_TOKEN"]
    if not token:
        raise click.ClickException("Set PORTAL_TWILIO_AUTH_TOKEN (the portal must use the same "
                                   "value) so the callbacks can be signed.")
    campaign_id = campaign_id or _newest_in_flight()
    if campaign_id is None:
        click.echo("No campaign is in flight; nothing to simulate.")
        return
    with db.engine.connect() as connection:
        sids = simulator.in_flight_sids(connection, campaign_id)
    callbacks = simulator.plan(sids, random.Random(seed))
    if not simulator.wait_for(url):
        raise click.ClickException(f"Nothing answers at {url}; start the portal first.")
    click.echo(f"Simulating {len(callbacks):,} callbacks for {len(sids):,} messages of "
               f"campaign {campaign_id}, {per_second:g} a second, to {url}")
    sender = simulator.Sender(url, token, current_app.config["PORTAL_TWILIO_ACCOUNT_SID"])
    answers = sender.send_all(callbacks, workers=2, per_second=per_second)
    click.echo("Done. Answers: " + ", ".join(f"{status}: {count:,}"
                                              for status, count in sorted(answers.items(),
                                                                          key=str)))


def _newest_in_flight():
    return db.session.execute(
        sa.select(Campaign.id).where(stats.in_flight_clause(Campaign.id))
        .order_by(Campaign.sent_at.desc()).limit(1)).scalar()
