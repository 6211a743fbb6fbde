"""Long work started from a page (a provider sync, a prepared report): its row in ``jobs``,
which any web worker reads to show the progress, and the thread it runs in."""

import threading

import sqlalchemy as sa
from flask import current_app

from portal.db import utcnow
from portal.db import write_transaction
from portal.models import Campaign
from portal.models import Job

campaigns = Campaign.__table__
jobs = Job.__table__

RUNNING = "running"
DONE = "done"
FAILED = "failed"


def running_job(connection, kind, campaign_id, started_since=None):
    """The id of the campaign's job of ``kind`` still running (and started since
    ``started_since``, when given), or None. Locks the campaign row first on PostgreSQL
    (BEGIN IMMEDIATE already serialises SQLite), so that two clicks at once cannot both
    start one."""
    connection.execute(sa.select(campaigns.c.id).where(campaigns.c.id == campaign_id)
                       .with_for_update())
    query = sa.select(jobs.c.id).where(jobs.c.kind == kind, jobs.c.campaign_id == campaign_id,
                                       jobs.c.state == RUNNING)
    if started_since is not None:
        query = query.where(jobs.c.started_at >= started_since)
    return connection.execute(query.order_by(jobs.c.id.desc()).limit(1)).scalar()


def new_job(connection, kind, campaign_id, total, message):
    """A running job of ``kind`` for the campaign, in the caller's transaction; its id."""
    return connection.execute(jobs.insert().values(
        kind=kind, campaign_id=campaign_id, state=RUNNING, done=0, total=total,
        message=message[:jobs.c.message.type.length], started_at=utcnow(),
    ).returning(jobs.c.id)).scalar_one()


def update_job(engine, job_id, **values):
    """Set the job's columns, in a transaction of its own, so every worker sees them."""
    if "message" in values:
        values["message"] = values["message"][:jobs.c.message.type.length]
    with write_transaction(engine) as connection:
        connection.execute(jobs.update().where(jobs.c.id == job_id).values(**values))


def start(name, work, *args):
    """Call ``work(*args)`` in the app's context on a thread of its own, or at once when
    PORTAL_RUN_IN_BACKGROUND is False (tests)."""
    app = current_app._get_current_object()

    def run():
        with app.app_context():
            work(*args)

    if not app.config.get("PORTAL_RUN_IN_BACKGROUND", True):
        run()
        return
    # Shortcoming: the job dies with this process and its row stays "running" (no heartbeat).
    threading.Thread(target=run, name=name, daemon=True).start()
