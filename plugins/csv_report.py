"""The CSV report: RFC 4180, UTF-8 with a byte-order mark so Excel reads it as UTF-8, and
safe to open in a spreadsheet."""

import codecs
import csv
import io
import re

from portal import hookimpl
from portal.exporters import Exporter

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A phone number in E.164 or a plain number reads as itself and is left alone.
PLAIN_VALUE = re.compile(r"\+[1-9]\d{5,14}|[+-]?\d+(\.\d+)?")
ROWS_PER_WRITE = 2000


def neutralise(cell):
    """Keep a spreadsheet from running ``cell`` as a formula: prefix a quote."""
    if cell and cell.startswith(FORMULA_STARTS) and not PLAIN_VALUE.fullmatch(cell):
        return "'" + cell
    return cell


def write(columns, rows, stream, total_rows):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    stream.write(codecs.BOM_UTF8)
    writer.writerow([column.title for column in columns])
    batch = []
    for row in rows:
        batch.append([neutralise(cell) for cell in row])
        if len(batch) == ROWS_PER_WRITE:
            writer.writerows(batch)
            batch.clear()
            stream.write(text.getvalue().encode("utf-8"))
            text.seek(0)
            text.truncate()
    writer.writerows(batch)
    stream.write(text.getvalue().encode("utf-8"))


@hookimpl
def portal_exporters():
    return [Exporter(format_id="csv", label="CSV", media_type="text/csv; charset=utf-8",
                     extension="csv", write=write)]
