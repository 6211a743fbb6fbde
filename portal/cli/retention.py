"""``flask --app portal retention run [--dry-run]``: redact the phone numbers of campaigns
older than PORTAL_RETENTION_DAYS, and remove the prepared report files kept past their
hour. Running it again changes nothing."""

import click
from flask import current_app
from flask.cli import with_appcontext

from portal import audit
from portal import reports
from portal import retention
from portal.db import db
from portal.db import write_transaction


@click.group("retention")
def retention_group():
    """Redact phone numbers after the retention period."""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Only say which campaigns and files are due.")
@with_appcontext
def run_command(dry_run):
    redact_campaigns(dry_run)
    remove_prepared_reports(dry_run)


def redact_campaigns(dry_run):
    days = current_app.config["PORTAL_RETENTION_DAYS"]
    campaigns = [(c.id, c.name, c.sent_at) for c in retention.due(db.session, days)]
    db.session.commit()  # end the read, so the writes below start from the present
    if not campaigns:
        click.echo(f"No campaign older than {days:g} days still holds phone numbers.")
        return
    for campaign_id, name, sent_at in campaigns:
        if dry_run:
            click.echo(f"campaign {campaign_id} ({name}), sent {sent_at:%Y-%m-%d}: due")
            continue
        with write_transaction(db.engine) as connection:
            touched = retention.redact(connection, campaign_id)
            audit.insert(connection, audit.event("retention.redact", campaign_id,
                                                 messages=touched, days=days))
        click.echo(f"campaign {campaign_id} ({name}): {touched:,} numbers redacted")


def remove_prepared_reports(dry_run):
    """Prepared reports hold phone numbers too; the web pages remove an expired one when it
    is asked for, this removes those nobody asked for again."""
    folder = reports.prepared_folder(current_app)
    if dry_run:
        count, done = len(reports.expired_files(db.engine, folder)), "due for removal"
    else:
        count, done = reports.remove_expired_files(db.engine, folder), "removed"
    click.echo(f"{count:,} expired prepared report file{'' if count == 1 else 's'} {done}.")
