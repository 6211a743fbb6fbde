"""What an exporter plugin supplies: one report format, written as a stream."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportColumn:
    title: str
    width: int


@dataclass(frozen=True)
class Exporter:
    """A delivery-report format.

    ``write(columns, rows, stream, total_rows)`` receives the column list, an iterator of
    tuples of ``str`` (or None for an empty cell), a binary stream that only has ``write``
    and ``flush``, and the number of rows the iterator will yield. It must write as it
    reads, never holding the whole report in memory.
    """

    format_id: str
    label: str
    media_type: str
    extension: str
    write: object
