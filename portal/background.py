"""Long work started from a page (a provider sync, a prepared report): its row in ``jobs``,
which any web worker reads to show the progress, and the thread it runs in. While the work
runs, a second thread marks the row as alive; a job whose row nobody has marked for
STALE_SECONDS belongs to a process that has ended (a restart, a crash), and is taken for
stopped."""

import contextlib
import logging
import threading
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from portal.db import db
from portal.db import utcnow
from portal.db import write_transaction
from portal.models import Campaign
from portal.models import Job

campaigns = Campaign.__table__
jobs = Job.__table__
log = logging.getLogger(__name__)

RUNNING = "running"
DONE = "done"
FAILED = "failed"

HEARTBEAT_SECONDS = 10
# Long enough for marks that wait behind a large SQLite import (a million rows hold the
# write lock for about a minute); machines sharing a database keep their clocks in step.
STALE_SECONDS = 180


class Superseded(Exception):
    """The job's row is no longer running: it was taken for stopped and another may have
    started. Its work ends without writing anything more to the row."""


def _stale_before(now=None):
    return (now or utcnow()) - timedelta(seconds=STALE_SECONDS)


def stopped(job, now=None):
    """Whether the job is still marked running although no process has marked it as alive
    for STALE_SECONDS: the process running it has ended, and nobody should wait for it."""
    return (job.state == RUNNING
            and (job.heartbeat_at or job.started_at) < _stale_before(now))


def running_job(connection, kind, campaign_id, stopped_message):
    """The id of the campaign's job of ``kind`` still running, or None. A running job whose
    process has ended is marked failed first, with ``stopped_message``. Locks the campaign
    row first on PostgreSQL (BEGIN IMMEDIATE already serialises SQLite), so that two clicks
    at once cannot both start one."""
    connection.execute(sa.select(campaigns.c.id).where(campaigns.c.id == campaign_id)
                       .with_for_update())
    of_campaign = (jobs.c.kind == kind, jobs.c.campaign_id == campaign_id,
                   jobs.c.state == RUNNING)
    connection.execute(
        jobs.update()
        .where(*of_campaign,
               sa.func.coalesce(jobs.c.heartbeat_at, jobs.c.started_at) < _stale_before())
        .values(state=FAILED, finished_at=utcnow(), message=stopped_message))
    return connection.execute(sa.select(jobs.c.id).where(*of_campaign)
                              .order_by(jobs.c.id.desc()).limit(1)).scalar()


def new_job(connection, kind, campaign_id, total, message):
    """A running job of ``kind`` for the campaign, in the caller's transaction; its id."""
    now = utcnow()
    return connection.execute(jobs.insert().values(
        kind=kind, campaign_id=campaign_id, state=RUNNING, done=0, total=total,
        message=message[:jobs.c.message.type.length], started_at=now, heartbeat_at=now,
    ).returning(jobs.c.id)).scalar_one()


def update_job(engine, job_id, **values):
    """Set the columns of the running job, in a transaction of its own, so every worker sees
    them; any update is a sign of life too, unless ``heartbeat_at`` is given. Raises
    Superseded when the row is no longer running."""
    if "message" in values:
        values["message"] = values["message"][:jobs.c.message.type.length]
    values.setdefault("heartbeat_at", utcnow())
    with write_transaction(engine) as connection:
        changed = connection.execute(jobs.update()
                                     .where(jobs.c.id == job_id, jobs.c.state == RUNNING)
                                     .values(**values)).rowcount
    if not changed:
        raise Superseded(f"job {job_id} is no longer running")


@contextlib.contextmanager
def heartbeat(engine, job_id, name):
    """For the length of the block, mark the running job as alive every HEARTBEAT_SECONDS
    from a thread of its own, so that a job waiting a long time (on a rate limit, a slow
    provider) is not taken for stopped. A mark that fails is logged and tried again at the
    next beat; the beats end early once the row is no longer running."""
    done = threading.Event()

    def beat():
        while not done.wait(HEARTBEAT_SECONDS):
            try:
                update_job(engine, job_id)
            except Superseded:
                return
            except Exception:
                log.warning("could not mark job %s as alive; trying again", job_id,
                            exc_info=True, extra={"job_id": job_id})

    thread = threading.Thread(target=beat, name=f"{name}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()


def start(name, work, job_id, *args):
    """Call ``work(job_id, *args)`` in the app's context on a thread of its own, or at once
    when PORTAL_RUN_IN_BACKGROUND is False (tests), with the job's heartbeat beating."""
    app = current_app._get_current_object()

    def run():
        with app.app_context():
            with heartbeat(db.engine, job_id, name):
                work(job_id, *args)

    if not app.config.get("PORTAL_RUN_IN_BACKGROUND", True):
        run()
        return
    threading.Thread(target=run, name=name, daemon=True).start()
