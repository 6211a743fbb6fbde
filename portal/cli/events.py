"""``flask --app portal events rebuild [--campaign ID] [--repair]``: rebuild every
message's state and the counts from the status event log and report any difference."""

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from portal.db import db
from portal.db import write_transaction
from portal.ingestion import rebuild
from portal.models import Campaign
from portal.plugin_manager import current_plugins

SHOWN = 20


@click.group("events")
def events_group():
    """The status event log: every status a provider or an import reported."""


@events_group.command("rebuild")
@click.option("--campaign", "campaign_id", type=int, help="Only this campaign (its id).")
@click.option("--repair", is_flag=True, help="Write the rebuilt states and counts.")
@with_appcontext
def rebuild_command(campaign_id, repair):
    """Rebuild states from the log; report (and with --repair, fix) what differs."""
    query = sa.select(Campaign).order_by(Campaign.id)
    if campaign_id is not None:
        query = query.where(Campaign.id == campaign_id)
    campaigns = db.session.execute(query).scalars().all()
    if campaign_id is not None and not campaigns:
        raise click.UsageError(f"There is no campaign {campaign_id}.")
    providers = current_plugins().providers()
    wrong_messages = wrong_counts = 0
    for campaign in campaigns:
        provider = providers.get(campaign.provider)
        if provider is None:
            click.echo(f"campaign {campaign.id}: skipped, no plugin describes provider "
                       f"{campaign.provider!r}")
            continue
        with write_transaction(db.engine) as connection:
            messages, counts = rebuild.rebuild_campaign(connection, campaign, provider, repair)
        for difference in messages[:SHOWN]:
            click.echo(f"campaign {campaign.id} message {difference.message_id}: stored "
                       f"{_describe(difference.stored)}, log says "
                       f"{_describe(difference.rebuilt)}")
        if len(messages) > SHOWN:
            click.echo(f"campaign {campaign.id}: … and {len(messages) - SHOWN} more messages")
        if counts:
            click.echo(f"campaign {campaign.id}: {len(counts)} count(s) differed from the rows")
        wrong_messages += len(messages)
        wrong_counts += len(counts)
    verb = "repaired" if repair else "found"
    click.echo(f"{wrong_messages} message state(s) and {wrong_counts} count(s) {verb} "
               f"different from the log, in {len(campaigns)} campaign(s).")
    if (wrong_messages or wrong_counts) and not repair:
        click.echo("Run again with --repair to write the rebuilt states.")
        raise SystemExit(1)


def _describe(state):
    status, provider_status, error_code, _ = state
    return " ".join(part for part in (status, provider_status, error_code) if part)
