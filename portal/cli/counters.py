"""``flask --app portal counters check [--repair]``: compare each campaign's stored counts
with a count of its message rows."""

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from portal import counters
from portal.db import db
from portal.models import Campaign


@click.group("counters")
def counters_group():
    """Check the per-campaign counts against the message rows."""


@counters_group.command("check")
@click.option("--campaign", "campaign_id", type=int, help="Only this campaign (its id).")
@click.option("--repair", is_flag=True, help="Replace wrong counts by a fresh count.")
@with_appcontext
def check_command(campaign_id, repair):
    """Report every count that differs from the rows; with --repair, fix them."""
    query = sa.select(Campaign.id, Campaign.name).order_by(Campaign.id)
    if campaign_id is not None:
        query = query.where(Campaign.id == campaign_id)
    campaigns = db.session.execute(query).all()
    if campaign_id is not None and not campaigns:
        raise click.UsageError(f"There is no campaign {campaign_id}; "
                               f"the dashboard lists the campaigns and their ids.")
    found = 0
    for campaign in campaigns:
        with db.engine.begin() as connection:
            differences = counters.check(connection, campaign.id, repair=repair)
        for difference in differences:
            status, provider_status, error_code = difference.bucket
            click.echo(f"campaign {campaign.id} ({campaign.name}): {status} "
                       f"{provider_status or '-'} {error_code or '-'}: stored "
                       f"{difference.stored}, rows {difference.actual}")
        found += len(differences)
    verb = "repaired" if repair else "found"
    if found:
        click.echo(f"{found} wrong count(s) {verb} in {len(campaigns)} campaign(s)."
                   + ("" if repair else " Run again with --repair to fix them."))
    else:
        click.echo(f"All counts of {len(campaigns)} campaign(s) match their message rows.")
    if found and not repair:
        raise SystemExit(1)
