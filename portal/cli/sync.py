"""``flask --app portal sync [--campaign ID] [--older-than HOURS]``: ask the providers for the
statuses of messages whose status reports never came."""

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.db import db
from portal.ingestion import sync


@click.command("sync")
@click.option("--campaign", "campaign_id", type=int, help="Only this campaign (its id).")
@click.option("--older-than", "hours", type=click.FloatRange(min=0, min_open=True),
              help="Ask about messages in flight for more than this many hours "
                   "(default: PORTAL_SYNC_AFTER_HOURS, 12).")
@with_appcontext
def sync_command(campaign_id, hours):
    """Ask the provider about messages still queued or sending after many hours, and apply
    what it answers. What was applied stays applied if the sync stops half-way."""
    if hours is None:
        hours = current_app.config["PORTAL_SYNC_AFTER_HOURS"]
    if campaign_id is not None and sync.campaign_provider(campaign_id) is None:
        raise click.UsageError(f"There is no campaign {campaign_id}; "
                               f"the dashboard lists the campaigns and their ids.")
    before = sync.threshold(hours)
    with db.engine.connect() as connection:
        work = sync.campaigns_to_sync(connection, before, campaign_id)
    total = sum(item.candidates for item in work)
    if not total:
        click.echo(f"No message has been waiting for a status for more than {hours:g} hours; "
                   f"nothing to ask.")
        return
    results, failure = run(work, before, total)
    report(results)
    if failure is not None:
        item, error = failure
        label = sync.provider_label(item.provider)
        raise click.ClickException(f"{_name(item)}: {sync.failure_text(error, label)}")


def run(work, before, total):
    """Sync each campaign in turn; stop at the first that fails."""
    results = []
    with click.progressbar(length=total,
                           label=f"Asking about {sync.number(total, 'message')}") as bar:
        for item in work:
            try:
                tally = sync.sync_campaign(item.campaign_id, before,
                                           progress=lambda chunk, _tally: bar.update(chunk.asked))
            except sync.SyncFailed as error:
                return results, (item, error)
            results.append((item, tally))
    return results, None


def report(results):
    overall = sync.Tally()
    for item, tally in results:
        click.echo(f"{_name(item)}: {sync.describe(tally, sync.provider_label(item.provider))}")
        overall.add(tally)
    if len(results) > 1:
        click.echo(f"In all, {len(results)} campaigns: {overall.asked:,} asked, "
                   f"{overall.updated:,} updated, {overall.unchanged:,} unchanged, "
                   f"{overall.unknown:,} unknown to the provider"
                   + (f", {overall.skipped:,} with a status the portal does not know."
                      if overall.skipped else "."))


def _name(item):
    return f"Campaign {item.campaign_id} ({item.name})"
