"""The Excel report: a workbook streamed as it is written, phone numbers kept as text."""

from plugins.xlsx_report.writer import write_xlsx
from portal import hookimpl
from portal.exporters import Exporter

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def write(columns, rows, stream, total_rows):
    write_xlsx([(column.title, column.width) for column in columns], rows, stream,
               total_rows=total_rows)


@hookimpl
def portal_exporters():
    return [Exporter(format_id="xlsx", label="Excel (XLSX)", media_type=MEDIA_TYPE,
                     extension="xlsx", write=write)]
