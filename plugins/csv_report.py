"""The CSV report: RFC 4180, UTF-8 with a byte-order mark so Excel reads it as UTF-8, and
safe to open in a spreadsheet."""

import codecs
import csv
import io
import itertools
import re

from portal import hookimpl
from portal.exporters import Exporter

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A phone number in E.164 or a plain number reads as itself and is left alone.
PLAIN_VALUE = re.compile(r"\+[1-9]\d{5,14}|[+-]?\d+(\.\d+)?")
ROWS_PER_BATCH = 2000
SEPARATOR = "\x00"
# A cell that may need neutralising, found in a batch joined with SEPARATOR: the scan runs
# in C over the whole batch, and only its (rare) hits are looked at in Python. An E.164
# number, which starts nearly every row, is skipped by the pattern itself.
SUSPECT = re.compile(r"\x00(?:[=\-@\t\r]|\+(?![1-9]\d{5,14}\x00))")


def neutralise(cell):
    """Keep a spreadsheet from running ``cell`` as a formula: prefix a quote."""
    if cell and cell.startswith(FORMULA_STARTS) and not PLAIN_VALUE.fullmatch(cell):
        return "'" + cell
    return cell


def neutralise_batch(rows):
    """``[[neutralise(cell) for cell in row] for row in rows]``, fast when few cells need it.
    Rows must all have the same number of cells."""
    if not rows:
        return rows
    width = len(rows[0])
    try:
        joined = SEPARATOR + SEPARATOR.join(itertools.chain.from_iterable(rows)) + SEPARATOR
    except TypeError:  # a None cell: take the plain path
        return [[neutralise(cell or "") for cell in row] for row in rows]
    if joined.count(SEPARATOR) != len(rows) * width + 1:  # a cell holds the separator
        return [[neutralise(cell) for cell in row] for row in rows]

    fixed = None
    cell_index = position = 0
    for match in SUSPECT.finditer(joined):
        cell_index += joined.count(SEPARATOR, position, match.start())
        position = match.start()
        row_index, column = divmod(cell_index, width)
        fixed = fixed or list(rows)
        row = list(fixed[row_index])
        row[column] = neutralise(row[column])
        fixed[row_index] = row
    return fixed or rows


def write(columns, rows, stream, total_rows):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    stream.write(codecs.BOM_UTF8)
    writer.writerow([column.title for column in columns])
    rows = iter(rows)
    while True:
        batch = list(itertools.islice(rows, ROWS_PER_BATCH))
        writer.writerows(neutralise_batch(batch))
        stream.write(text.getvalue().encode("utf-8"))
        text.seek(0)
        text.truncate()
        if len(batch) < ROWS_PER_BATCH:
            return


@hookimpl
def portal_exporters():
    return [Exporter(format_id="csv", label="CSV", media_type="text/csv; charset=utf-8",
                     extension="csv", write=write)]
