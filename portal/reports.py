"""Delivery reports: the rows of a campaign, read in one consistent snapshot and paged by
id, streamed through an exporter plugin to the HTTP response, or to a file that a
background job prepares while the page shows its progress."""

import json
import logging
import queue
import re
import threading
import unicodedata
from datetime import date
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from portal import audit
from portal import statuses
from portal.background import DONE
from portal.background import FAILED
from portal.background import RUNNING
from portal.background import Superseded
from portal.background import new_job
from portal.background import running_job
from portal.background import update_job
from portal.db import DriverStatement
from portal.db import iso_timestamp
from portal.db import snapshot
from portal.db import utcnow
from portal.db import write_transaction
from portal.exporters import ReportColumn
from portal.models import CampaignCount
from portal.models import Job
from portal.models import Message
from portal.models import unsent

log = logging.getLogger(__name__)

messages = Message.__table__
counts = CampaignCount.__table__
jobs = Job.__table__

COLUMNS = (
    ReportColumn("Phone number", 18),
    ReportColumn("Status", 9),
    ReportColumn("Provider status", 16),
    ReportColumn("Error code", 14),
    ReportColumn("Error title", 42),
    ReportColumn("Follow-up action", 60),
    ReportColumn("Provider message ID", 36),
    ReportColumn("Last update", 26),
)

PAGE_ROWS = 5000
CHUNK_BYTES = 64 * 1024
PROGRESS_ROWS = 5000  # rows between two progress reports of a prepared report


def row_count(connection, campaign_id, only_errors):
    query = sa.select(sa.func.coalesce(sa.func.sum(counts.c.count), 0)).where(
        counts.c.campaign_id == campaign_id)
    if only_errors:
        query = query.where(counts.c.status == statuses.ERROR)
    return int(connection.execute(query).scalar_one())


def _error_codes(connection, campaign_id):
    """The campaign's error codes, the most frequent first."""
    total = sa.func.sum(counts.c.count)
    return connection.execute(
        sa.select(counts.c.error_code)
        .where(counts.c.campaign_id == campaign_id, counts.c.error_code != "")
        .group_by(counts.c.error_code)
        .having(total > 0)
        .order_by(total.desc(), counts.c.error_code)
    ).scalars().all()


def report_query(connection, campaign, plugins, only_errors):
    """The SELECT whose rows are the report's rows, cell for cell. Titles and actions come
    from the plugins once per error code and are spliced in as CASE expressions, so the
    database, not Python, fills them in row by row: rows without an error skip the CASE,
    and the most frequent codes are tested first."""
    interpretations = {code: plugins.interpret_error(campaign.provider, code)
                       for code in _error_codes(connection, campaign.id)}

    def by_code(attribute):
        if not interpretations:
            return sa.literal("")
        lookup = sa.case({code: getattr(found, attribute)
                          for code, found in interpretations.items()},
                         value=messages.c.error_code, else_="")
        return sa.case((messages.c.error_code.is_(None), ""), else_=lookup)

    query = sa.select(
        messages.c.recipient,
        messages.c.status,
        sa.func.coalesce(messages.c.provider_status, ""),
        sa.func.coalesce(messages.c.error_code, ""),
        by_code("title"),
        by_code("action"),
        sa.func.coalesce(messages.c.provider_message_id, ""),
        iso_timestamp(messages.c.updated_at, connection.dialect.name),
    ).where(messages.c.campaign_id == campaign.id)
    if only_errors:
        query = query.where(messages.c.status == statuses.ERROR, unsent(messages.c.status))
    return query


def report_rows(connection, campaign, plugins, only_errors, page_rows=PAGE_ROWS):
    """Yield one tuple of text per recipient, in id order. Each page is an indexed range of
    ids, its upper bound found first (never an OFFSET over the rows), then read."""
    ids = sa.select(messages.c.id).where(messages.c.campaign_id == campaign.id)
    if only_errors:
        ids = ids.where(messages.c.status == statuses.ERROR, unsent(messages.c.status))
    dialect = connection.dialect
    after = messages.c.id > sa.bindparam("after")
    page_end = DriverStatement(ids.where(after).order_by(messages.c.id)
                               .offset(page_rows - 1).limit(1), dialect)
    query = report_query(connection, campaign, plugins, only_errors).where(after)
    page = DriverStatement(query.where(messages.c.id <= sa.bindparam("last"))
                           .order_by(messages.c.id), dialect)
    rest = DriverStatement(query.order_by(messages.c.id), dialect)

    last = 0
    while True:
        bound = page_end.rows(connection, after=last)
        if not bound:
            yield from rest.rows(connection, after=last)
            return
        yield from page.rows(connection, after=last, last=bound[0][0])
        last = bound[0][0]


def filename(campaign, extension, only_errors, today=None):
    """``<campaign name>-<errors->YYYY-MM-DD.<ext>``, with the name reduced to safe
    characters."""
    ascii_name = unicodedata.normalize("NFKD", campaign.name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-").lower() or f"campaign-{campaign.id}"
    part = "-errors" if only_errors else ""
    return f"{slug[:80]}{part}-{(today or date.today()).isoformat()}.{extension}"


class ClientGone(Exception):
    """The person stopped the download; the writer thread ends quietly."""


class _Pipe:
    """A write-only binary stream whose chunks a web response reads from another thread.
    The bounded queue makes a slow client slow the writer down instead of filling memory."""

    def __init__(self):
        self.chunks = queue.Queue(maxsize=8)
        self.buffer = bytearray()
        self.cancelled = threading.Event()

    def write(self, data):
        self.buffer += data
        if len(self.buffer) >= CHUNK_BYTES:
            self.flush()
        return len(data)

    def flush(self):
        if self.buffer:
            self.put(bytes(self.buffer))
            self.buffer.clear()

    def put(self, item):
        while True:
            if self.cancelled.is_set():
                raise ClientGone()
            try:
                self.chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue


_DONE = object()


def _audit(engine, event, rows):
    event.details = json.dumps({**json.loads(event.details), "rows": rows}, sort_keys=True)
    with engine.begin() as connection:
        audit.insert(connection, event)


def _counted(rows, total, progress):
    """The rows, calling ``progress(rows so far, total)`` every PROGRESS_ROWS rows and once
    after the last."""
    done = 0
    for done, row in enumerate(rows, start=1):
        yield row
        if done % PROGRESS_ROWS == 0:
            progress(done, total)
    progress(done, total)


def stream(engine, campaign, plugins, exporter, only_errors, audit_event=None, progress=None):
    """A generator of the report's bytes. The exporter runs in a thread on its own
    connection and transaction, so the rows and their count belong to one moment.
    ``audit_event`` (an AuditEvent) is written with the number of rows, when they are known.
    ``progress(rows so far, total)``, if given, is called from that thread as the rows go
    to the exporter."""
    pipe = _Pipe()

    def produce():
        try:
            with snapshot(engine) as connection:
                total = row_count(connection, campaign.id, only_errors)
                if audit_event is not None:
                    _audit(engine, audit_event, total)
                rows = report_rows(connection, campaign, plugins, only_errors)
                if progress is not None:
                    rows = _counted(rows, total, progress)
                exporter.write(COLUMNS, rows, pipe, total)
                pipe.flush()
            pipe.put(_DONE)
        except ClientGone:
            pass
        except Exception as error:  # handed to the response, which logs and stops
            try:
                pipe.put(error)
            except ClientGone:
                pass

    worker = threading.Thread(target=produce, name=f"report-{campaign.id}", daemon=True)
    worker.start()
    try:
        while True:
            item = pipe.chunks.get()
            if item is _DONE:
                return
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        pipe.cancelled.set()


# Prepared reports: the same stream written to a file by a job, whose row the page polls

JOB_KIND = "report"
KEEP_SECONDS = 60 * 60  # prepared files hold phone numbers: kept an hour after they are done


def rows_text(count):
    return f"{count:,} row{'' if count == 1 else 's'}"


def report_title(exporter, only_errors):
    """What the job's messages call the report: ``CSV report (errors only)``."""
    return f"{exporter.label} report{' (errors only)' if only_errors else ''}"


def progress_text(title, done, total):
    return f"Writing the {title}: row {done:,} of {total:,}"


def prepared_folder(app):
    """Where prepared reports are written: ``reports/`` in the app's instance folder."""
    return Path(app.instance_path) / "reports"


def _stem(job):
    """The start of a job's file names: its id, campaign and start (epoch seconds). Ids
    start again after a restore, but not with the same campaign and second."""
    return f"{job.id}-{job.campaign_id}-{int(job.started_at.timestamp())}"


def prepared_path(folder, job, extension, only_errors):
    """Where the job's finished file goes; its name says the format and which rows."""
    return folder / f"{_stem(job)}{'-errors' if only_errors else ''}.{extension}"


def find_prepared(folder, job, extensions):
    """(path, extension, only_errors) of the job's finished file, or None when there is none
    (not finished, failed, removed, or written by another machine)."""
    for extension in extensions:
        for only_errors in (False, True):
            path = prepared_path(folder, job, extension, only_errors)
            if path.is_file():
                return path, extension, only_errors
    return None


STOPPED = ("The portal process writing it ended (a restart or a crash) before it finished. "
           "Prepare it again from the campaign's page.")


def _keep_since(now=None):
    return (now or utcnow()) - timedelta(seconds=KEEP_SECONDS)


def expired(job, now=None):
    """Whether the job finished more than KEEP_SECONDS ago, so its file is not kept."""
    return job.finished_at is not None and job.finished_at < _keep_since(now)


def expired_files(engine, folder, now=None):
    """The files in the folder to remove: any file but those of report jobs still running or
    finished less than KEEP_SECONDS ago, and any file not written to for KEEP_SECONDS (as one
    a job left half-written when its process died)."""
    if not folder.is_dir():
        return []
    # Listed before the jobs are read, so each file's job row is already there to be read.
    paths = [path for path in folder.iterdir() if path.is_file()]
    since = _keep_since(now)
    with engine.connect() as connection:
        live = connection.execute(sa.select(jobs.c.id, jobs.c.campaign_id, jobs.c.started_at)
                                  .where(jobs.c.kind == JOB_KIND,
                                         sa.or_(jobs.c.state == RUNNING,
                                                jobs.c.finished_at >= since))).all()
    kept = {_stem(job) for job in live}

    def keep(path):
        try:
            written = path.stat().st_mtime
        except FileNotFoundError:  # another worker removed it first
            return True
        stem = path.name.partition(".")[0].removesuffix("-errors")
        return stem in kept and written >= since.timestamp()

    return [path for path in paths if not keep(path)]


def remove_expired_files(engine, folder, now=None):
    """Remove the expired_files; returns how many this call removed."""
    removed = 0
    for path in expired_files(engine, folder, now):
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:  # another worker removed it first
            pass
    return removed


def start_job(engine, campaign_id, exporter, only_errors):
    """(job id, whether it is new): a new running report job for the campaign, its total the
    rows the counts promise; or the campaign's report job already running (one whose process
    has ended is marked failed instead, see portal.background)."""
    title = report_title(exporter, only_errors)
    with write_transaction(engine) as connection:
        running = running_job(connection, JOB_KIND, campaign_id, STOPPED)
        if running is not None:
            return running, False
        total = row_count(connection, campaign_id, only_errors)
        return new_job(connection, JOB_KIND, campaign_id, total,
                       f"Getting ready to write the {title}: {rows_text(total)}"), True


def run_job(engine, job_id, campaign, plugins, exporter, only_errors, path, audit_event=None):
    """Write the report to ``path`` through ``stream``, as a download would get it, keeping
    the job's row up to date. Never raises: whatever happens ends in the job's state, unless
    the job was taken for stopped meanwhile (Superseded): then it ends leaving the row as it
    is."""
    try:
        _write_job(engine, job_id, campaign, plugins, exporter, only_errors, path, audit_event)
    except Superseded:
        log.warning("report job %s of campaign %s was taken for stopped; it ended", job_id,
                    campaign.id, extra={"campaign": campaign.id})


def _write_job(engine, job_id, campaign, plugins, exporter, only_errors, path, audit_event):
    title = report_title(exporter, only_errors)
    written = 0

    def progress(done, total):
        nonlocal written
        written = done
        update_job(engine, job_id, done=done, total=total,
                   message=progress_text(title, done, total))

    # Written under another name first, so a half-written file is never offered.
    part = path.with_name(path.name + ".part")
    try:
        with open(part, "wb") as file:
            for chunk in stream(engine, campaign, plugins, exporter, only_errors, audit_event,
                                progress):
                file.write(chunk)
        part.replace(path)
    except Superseded:
        part.unlink(missing_ok=True)
        raise
    except Exception as error:  # whatever broke, the person is told and the file removed
        log.exception("report job %s of campaign %s failed", job_id, campaign.id,
                      extra={"campaign": campaign.id, "format": exporter.format_id})
        part.unlink(missing_ok=True)
        update_job(engine, job_id, state=FAILED, finished_at=utcnow(),
                   message=f"The {title} stopped ({type(error).__name__}). "
                           f"Prepare it again; if it fails again, tell the portal's operators: "
                           f"the portal's log has the details.")
        return
    log.info("report prepared job=%s campaign=%s format=%s only_errors=%s rows=%s", job_id,
             campaign.id, exporter.format_id, only_errors, written,
             extra={"campaign": campaign.id, "format": exporter.format_id})
    update_job(engine, job_id, state=DONE, done=written, total=written, finished_at=utcnow(),
               message=f"The {title} is ready: {rows_text(written)}.")
