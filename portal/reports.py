"""Delivery reports: the rows of a campaign, read in one consistent snapshot and paged by
id, streamed through an exporter plugin to the HTTP response."""

import queue
import re
import threading
import unicodedata
from datetime import date

import sqlalchemy as sa

from portal import statuses
from portal.exporters import ReportColumn
from portal.models import CampaignCount
from portal.models import Message

messages = Message.__table__
counts = CampaignCount.__table__

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


def row_count(connection, campaign_id, only_errors):
    query = sa.select(sa.func.coalesce(sa.func.sum(counts.c.count), 0)).where(
        counts.c.campaign_id == campaign_id)
    if only_errors:
        query = query.where(counts.c.status == statuses.ERROR)
    return int(connection.execute(query).scalar_one())


def report_rows(connection, campaign, plugins, only_errors, page_rows=PAGE_ROWS):
    """Yield one tuple of text per recipient, in id order, paging by id (never by offset)
    so each page is one indexed range read."""
    described = {}

    def describe(status, provider_status, error_code):
        key = (status, provider_status, error_code)
        cells = described.get(key)
        if cells is None:
            title = action = ""
            if error_code:
                interpretation = plugins.interpret_error(campaign.provider, error_code)
                title, action = interpretation.title, interpretation.action
            cells = (status, provider_status or "", error_code or "", title, action)
            described[key] = cells
        return cells

    query = sa.select(messages.c.id, messages.c.recipient, messages.c.status,
                      messages.c.provider_status, messages.c.error_code,
                      messages.c.provider_message_id, messages.c.updated_at)
    query = query.where(messages.c.campaign_id == campaign.id)
    if only_errors:
        query = query.where(messages.c.status == statuses.ERROR)
    query = query.order_by(messages.c.id).limit(page_rows)

    last_id = 0
    while True:
        page = connection.execute(query.where(messages.c.id > last_id)).all()
        for row in page:
            yield (row.recipient, *describe(row.status, row.provider_status, row.error_code),
                   row.provider_message_id or "", row.updated_at.isoformat(timespec="seconds"))
        if len(page) < page_rows:
            return
        last_id = page[-1].id


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


def stream(engine, campaign, plugins, exporter, only_errors):
    """A generator of the report's bytes. The exporter runs in a thread on its own
    connection and transaction, so the rows and their count belong to one moment."""
    pipe = _Pipe()

    def produce():
        try:
            with engine.connect() as connection, connection.begin():
                total = row_count(connection, campaign.id, only_errors)
                rows = report_rows(connection, campaign, plugins, only_errors)
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
