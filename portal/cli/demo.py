"""``flask --app portal demo``: load the demo data once; ``--campaign-size N`` adds one
campaign of N recipients (for benchmarks)."""

import random
from datetime import timedelta

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from portal import demo
from portal import stats
from portal.db import db
from portal.db import utcnow
from portal.models import Campaign
from portal.plugin_manager import current_plugins


@click.command("demo")
@click.option("--campaign-size", type=click.IntRange(min=0), default=None,
              help="Add one finished campaign of this many recipients.")
@click.option("--seed", type=int, default=2026, help="Random seed, for repeatable data.")
@click.option("--live", is_flag=True,
              help="Also add a campaign that has just gone out, unless one is in flight.")
@with_appcontext
def demo_command(campaign_size, seed, live):
    """Load realistic demo campaigns (once), or add one campaign of a given size."""
    provider = current_plugins().providers().get("twilio")
    if provider is None:
        raise click.ClickException("The Twilio provider plugin is not loaded, so demo "
                                   "campaigns cannot be made; see the plugins page.")
    rng = random.Random(seed if campaign_size is None else None)
    now = utcnow()
    with db.engine.begin() as connection:
        teams = demo.ensure_teams(connection)
        if campaign_size is not None:
            with click.progressbar(length=campaign_size,
                                   label=f"Adding a campaign of {campaign_size:,}") as bar:
                campaign_id = demo.add_campaign(
                    connection, provider, teams[0], f"Benchmark campaign of {campaign_size:,}",
                    campaign_size, now - timedelta(days=1), demo.FINISHED_MIX, rng, bar)
            click.echo(f"Added campaign {campaign_id} with {campaign_size:,} recipients.")
            return
        demo.ensure_users(connection, teams)
        if demo.is_loaded(connection):
            click.echo("Demo data is already loaded.")
        else:
            total = sum(campaign[2] for campaign in demo.CAMPAIGNS)
            with click.progressbar(length=total, label="Loading demo campaigns") as bar:
                for name, team, size, days_ago, in_flight in demo.CAMPAIGNS:
                    mix = demo.IN_FLIGHT_MIX if in_flight else demo.FINISHED_MIX
                    demo.add_campaign(connection, provider, teams[team], name, size,
                                      now - timedelta(days=days_ago), mix, rng, bar)
            click.echo(f"Loaded {len(demo.CAMPAIGNS)} demo campaigns with {total:,} "
                       f"recipients.")
        if live and not connection.execute(
                sa.select(Campaign.id).where(stats.in_flight_clause(Campaign.id))).first():
            campaign_id = demo.add_campaign(connection, provider, teams[1], demo.LIVE_NAME,
                                            demo.LIVE_SIZE, now, demo.LIVE_MIX, rng)
            click.echo(f"Added campaign {campaign_id}, just gone out, for the simulator.")
    click.echo("Sign in as " + ", ".join(email for email, _, _ in demo.DEMO_USERS)
               + f" with the password {demo.DEMO_PASSWORD!r} (demo accounts).")
