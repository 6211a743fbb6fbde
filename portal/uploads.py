"""Importing a campaign from an uploaded CSV file: columns found by their header names, the
file read line by line in batches for registration, and every problem reported with the
line and column where it is, in words for the person who made the file. One transaction
holds the whole import, so a file refused halfway stores nothing."""

import csv
import io
import re
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import sqlalchemy as sa

from portal import registration
from portal.db import write_transaction
from portal.ingestion import events
from portal.models import Campaign

BATCH = 10_000
MAX_LINE = 100_000  # characters; longer is not a CSV line (and would fill memory)
LISTED_LINES = 20
MAX_MESSAGE_ID = 64
MAX_ERROR_CODE = 32

# Each field and the header names that mean it (case and surrounding spaces ignored); when
# a file has several, the first name listed wins.
COLUMNS = {
    "recipient": ("recipient", "phone", "phone number", "number", "to", "msisdn"),
    "message_id": ("provider_message_id", "message id", "message_sid", "sid"),
    "status": ("status", "provider status", "messagestatus"),
    "error_code": ("error_code", "errorcode", "error code"),
    "sent_at": ("sentdate", "sent date", "date sent", "sent_at"),
    "direction": ("direction",),
}

DATE_FORMATS = ("ISO 8601, like 2026-12-01T08:00:00+00:00, or as Twilio writes it, like "
                "Tue, 01 Dec 2026 08:00:00 +0000")
SAVE_AS = "save it as CSV UTF-8"

# With errors="surrogateescape", a byte that is not UTF-8 arrives as U+DC80..U+DCFF.
SUSPECT = re.compile("[\x00\udc80-\udcff]")
LOOKS_LIKE_A_NUMBER = re.compile(r"\+?[\d\s().-]{6,}")
TWILIO_DATE = re.compile(r"(?:[A-Za-z]{3},\s*)?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) "
                         r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|GMT|UTC|UT|Z)?")
MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


class BadFile(ValueError):
    """The file cannot be imported. ``message`` is for the person and may quote a cell;
    ``problem``, ``line`` and ``column`` are for the log, which quotes none."""

    def __init__(self, problem, message, line=None, column=None):
        where = ""
        if line is not None:
            where = f"Line {line:,}" + (f", column {column}" if column else "") + ": "
        super().__init__(where + message)
        self.problem, self.line, self.column = problem, line, column
        self.message = where + message


@dataclass(frozen=True)
class NewCampaign:
    name: str
    provider: object  # a portal.providers.Provider
    team_id: int
    sent_at: datetime | None  # None: the earliest sent date in the file, else now


@dataclass
class Summary:
    campaign_id: int | None = None
    rows: int = 0
    stored: int = 0
    invalid: int = 0
    invalid_lines: list = field(default_factory=list)
    duplicates: int = 0
    duplicate_lines: list = field(default_factory=list)
    inbound_skipped: int = 0
    early_callbacks: int = 0

    def add(self, result, lines):
        """Fold one batch's registration result in; ``lines`` maps its rows to lines."""
        self.rows += len(lines)
        self.stored += result.accepted + len(result.invalid_rows)
        self.invalid += len(result.invalid_rows)
        self.duplicates += len(result.duplicate_rows)
        _keep_first(self.invalid_lines, result.invalid_rows, lines)
        _keep_first(self.duplicate_lines, result.duplicate_rows, lines)


def _keep_first(kept, rows, lines):
    room = LISTED_LINES - len(kept)
    kept.extend(lines[row] for row in rows[:max(room, 0)])


@dataclass
class Batch:
    items: list = field(default_factory=list)
    lines: list = field(default_factory=list)


def column_name(index, header):
    """How a person finds a column in a spreadsheet: its header and its letter."""
    letters, number = "", index + 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f'"{header[index].strip()}" ({letters})'


def shown(value, limit=40):
    value = value.strip()
    return repr(value if len(value) <= limit else value[:limit] + "…")


def parse_date(text):
    """An aware datetime from ISO 8601 or Twilio's RFC 2822 form; None if it is neither.
    A time without a zone is taken as UTC, the zone the portal shows."""
    if text[:1].isalpha():
        moment = _twilio_date(text)
    else:
        moment = _iso_date(text) or _twilio_date(text)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def _iso_date(text):
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _twilio_date(text):
    match = TWILIO_DATE.fullmatch(text)
    if match is None:
        return None
    day, month, year, hour, minute, second, zone = match.groups()
    month = MONTHS.get(month.lower())
    if month is None:
        return None
    offset = timezone.utc
    if zone and zone[0] in "+-":
        minutes = int(zone[1:3]) * 60 + int(zone[3:5])
        offset = timezone(timedelta(minutes=-minutes if zone[0] == "-" else minutes))
    try:
        return datetime(int(year), month, int(day), int(hour), int(minute), int(second or 0),
                        tzinfo=offset)
    except ValueError:
        return None


def text_lines(stream):
    """The file's lines as text, checked one by one, so a problem names its line and the
    file is never held in memory whole."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape",
                            newline="")
    number = 0
    while line := text.readline(MAX_LINE + 1):
        number += 1
        if number == 1:
            _check_not_another_format(line)
        if len(line) > MAX_LINE:
            raise BadFile("long_line", f"the line is longer than {MAX_LINE:,} characters, "
                          f"so this is not a CSV file of messages; {SAVE_AS}", number)
        if SUSPECT.search(line):
            raise _not_text(line, number)
        yield line


def _check_not_another_format(line):
    if line.startswith("PK\x03\x04"):
        raise BadFile("workbook", "this is an Excel workbook (or another zip file), not a "
                      "CSV file; in Excel, choose File, Save As, and the type CSV UTF-8")
    if line.startswith(("\udcff\udcfe", "\udcfe\udcff")):
        raise BadFile("utf16", "the file is UTF-16 text (Excel calls it Unicode Text), not "
                      f"UTF-8; {SAVE_AS}")


def _not_text(line, number):
    if "\x00" in line:
        return BadFile("binary", "this line holds binary data (a NUL byte), so the file is "
                       f"not CSV text; {SAVE_AS}", number)
    return BadFile("encoding", f"the file is not UTF-8 text; {SAVE_AS}", number)


def _broken_row(error, line):
    text = str(error)
    if "end of data" in text or "field limit" in text:
        message = ('a quote (") opens a cell here that is never closed; close it, or '
                   "remove the stray quote")
    elif "expected after" in text:
        message = ('a quoted cell must end with its closing quote (") followed by a comma '
                   "or the end of the line")
    else:
        message = f"this line cannot be read as CSV ({text})"
    return BadFile("broken_row", message, line)


def find_columns(header):
    """{field: index} for the fields the header names."""
    names = {}
    for index, cell in enumerate(header):
        names.setdefault(" ".join(cell.split()).lower(), index)
    found = {}
    for name, aliases in COLUMNS.items():
        for alias in aliases:
            if alias in names:
                found[name] = names[alias]
                break
    if "recipient" not in found:
        raise _no_recipient(header)
    return found


def _no_recipient(header):
    if any(LOOKS_LIKE_A_NUMBER.fullmatch(cell.strip()) for cell in header):
        return BadFile("no_header", "this line looks like data, not column names; the first "
                       "line must name the columns, like: recipient,provider_message_id", 1)
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        return BadFile("separator", "the columns are separated by semicolons or tabs, not "
                       f"commas; {SAVE_AS} (comma delimited)", 1)
    names = ", ".join(COLUMNS["recipient"])
    found = ", ".join(cell.strip() for cell in header if cell.strip())[:200]
    return BadFile("no_recipient", f"no column for the phone number: name one of {names} "
                   f"(the file's columns are: {found or 'none'})", 1)


class Reader:
    """Reads an uploaded file into batches of registration.NewMessage. Reading the header
    happens at once, so a file without the columns fails before anything is stored."""

    def __init__(self, stream, provider):
        self.provider = provider
        self.statuses = _status_names(provider)
        self.csv = csv.reader(text_lines(stream), strict=True)
        self.header = self._header()
        self.width = len(self.header)
        self.columns = find_columns(self.header)
        self.inbound_skipped = 0
        self.earliest = None
        self._last_date = None

    def _header(self):
        for line, row in self._records():
            if any(cell.strip() for cell in row):
                return row
        raise BadFile("empty", "the file is empty; it needs a header line naming the "
                      "columns, then one line per message")

    def _records(self):
        """(line number where the record starts, cells) for every record, blank ones too."""
        while True:
            line = self.csv.line_num + 1
            try:
                row = next(self.csv)
            except StopIteration:
                return
            except csv.Error as error:
                raise _broken_row(error, line) from None
            yield line, row

    def batches(self):
        batch = Batch()
        for line, row in self._records():
            item = self._message(line, row)
            if item is None:
                continue
            batch.items.append(item)
            batch.lines.append(line)
            if len(batch.items) == BATCH:
                yield batch
                batch = Batch()
        if batch.items:
            yield batch

    def _message(self, line, row):
        """The row as a NewMessage, or None for a row to leave out (blank, or inbound)."""
        columns = self.columns
        if len(row) != self.width and not self._fits(line, row):
            return None
        recipient = row[columns["recipient"]]
        if not recipient.strip() and not any(cell.strip() for cell in row):
            return None
        if "direction" in columns and self._inbound(row[columns["direction"]]):
            self.inbound_skipped += 1
            return None
        if "sent_at" in columns:
            self._sent_at(line, row)
        return registration.NewMessage(
            recipient,
            self._text(line, row, "message_id", MAX_MESSAGE_ID, "message id"),
            self._status(line, row),
            self._text(line, row, "error_code", MAX_ERROR_CODE, "error code"))

    def _fits(self, line, row):
        """Whether a row of another length can still be read: a blank line, or extra
        cells that are all empty (trailing commas)."""
        if not any(cell.strip() for cell in row):
            return False
        if len(row) > self.width and not any(cell.strip() for cell in row[self.width:]):
            del row[self.width:]
            return True
        raise BadFile("cells", f"this line has {len(row)} cells but the header has "
                      f"{self.width} columns; look for a missing or extra comma, or a comma "
                      f'inside a cell that is not in quotes (")', line)

    @staticmethod
    def _inbound(direction):
        return direction.strip().lower().startswith("inbound")

    def _text(self, line, row, name, limit, label):
        index = self.columns.get(name)
        if index is None:
            return None
        value = row[index].strip()
        if len(value) > limit:
            raise BadFile("too_long", f"the {label} is {len(value)} characters long; at most "
                          f"{limit} fit. Is this the right column?", line,
                          column_name(index, self.header))
        return value or None

    def _status(self, line, row):
        index = self.columns.get("status")
        if index is None:
            return None
        value = row[index].strip()
        if not value:
            return None
        known = self.statuses.get(value) or self.statuses.get(value.lower())
        if known is None:
            names = ", ".join(status.name for status in self.provider.statuses)
            raise BadFile("status", f"{shown(value)} is not a {self.provider.label} status; "
                          f"use one of: {names}", line, column_name(index, self.header))
        return known

    def _sent_at(self, line, row):
        index = self.columns["sent_at"]
        value = row[index].strip()
        if not value or value == self._last_date:  # rows sent in the same second
            return
        self._last_date = value
        moment = parse_date(value)
        if moment is None:
            raise BadFile("date", f"{shown(value)} is not a date the portal can read; write "
                          f"it in {DATE_FORMATS}", line, column_name(index, self.header))
        if self.earliest is None or moment < self.earliest:
            self.earliest = moment


def _status_names(provider):
    """The provider's status names, also by their lower-case spelling, each to its own."""
    names = {status.name.lower(): status.name for status in provider.statuses}
    names.update({status.name: status.name for status in provider.statuses})
    return names


def store(engine, campaign, stream, region, at):
    """Create the campaign and register every message of the file in one transaction;
    raise BadFile, storing nothing, at the first problem. Returns the Summary."""
    reader = Reader(stream, campaign.provider)
    with write_transaction(engine) as connection:
        summary = Summary(campaign_id=_insert_campaign(connection, campaign, at))
        for batch in reader.batches():
            result = registration.register(connection, summary.campaign_id, campaign.provider,
                                           region, batch.items, at, source="upload",
                                           early_callbacks=False)
            summary.add(result, batch.lines)
        summary.inbound_skipped = reader.inbound_skipped
        if not summary.stored:
            raise BadFile("nothing", _nothing_to_import(summary))
        if campaign.sent_at is None and reader.earliest is not None:
            connection.execute(sa.update(Campaign).where(Campaign.id == summary.campaign_id)
                               .values(sent_at=reader.earliest))
        summary.early_callbacks = events.apply_pending(connection, campaign.provider,
                                                       summary.campaign_id)
    return summary


def _insert_campaign(connection, campaign, at):
    return connection.execute(
        sa.insert(Campaign).values(team_id=campaign.team_id, name=campaign.name,
                                   provider=campaign.provider.name,
                                   sent_at=campaign.sent_at or at, created_at=at)
        .returning(Campaign.id)).scalar_one()


def _nothing_to_import(summary):
    if summary.duplicates:
        return (f"every message in the file is already in the portal ({summary.duplicates:,} "
                f"duplicates), so there is nothing to import")
    if summary.inbound_skipped:
        return (f"the file holds only inbound messages ({summary.inbound_skipped:,}), which "
                f"are not part of a campaign, so there is nothing to import")
    return "the file has a header line but no messages under it"
