"""An outside exporter plugin: the delivery report as JSON Lines, one object per recipient.

It depends on nothing but the portal's hook marker and exporter record, as any plugin
would, and is found through the ``portal.plugins`` entry point in its setup.cfg.
"""

import json

from portal import hookimpl
from portal.exporters import Exporter


def write(columns, rows, stream, total_rows):
    keys = [column.title.lower().replace(" ", "_") for column in columns]
    lines = []
    for row in rows:
        lines.append(json.dumps(dict(zip(keys, row)), ensure_ascii=False))
        if len(lines) == 1000:
            stream.write(("\n".join(lines) + "\n").encode("utf-8"))
            lines.clear()
    if lines:
        stream.write(("\n".join(lines) + "\n").encode("utf-8"))


@hookimpl
def portal_exporters():
    return [Exporter(format_id="jsonl", label="JSON Lines", media_type="application/x-ndjson",
                     extension="jsonl", write=write)]
