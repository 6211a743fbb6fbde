"""Delivery reports over HTTP against the same rows written by the plainest tools.

    .venv/bin/python bench/reports.py [--database sqlite|postgresql] [csv|xlsx ...]

The portal runs under gunicorn (one sync worker) on 127.0.0.1 with the benchmark database;
the client signs in as the benchmark admin. For each format: rows per second over HTTP for
the campaign of 1,000,000 recipients, the time to the first bytes, and the worker's peak
resident memory after exporting 10,000 rows and then 1,000,000 (a fresh worker for each
format). The floors run in this process, in the same run, on the same database, over the
same message rows: a plain driver cursor (sqlite3; on PostgreSQL a psycopg server-side
cursor, fetched 5,000 rows at a time, with updated_at cast to text by the server) feeding
csv.writer; the same cursor on the report's own SELECT (its rows are the report's, cell for
cell) feeding csv.writer; and XlsxWriter in constant_memory mode.
"""

import csv
import http.client
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import common

COLUMNS = "recipient, status, provider_status, error_code, provider_message_id, updated_at"
FETCH = 5000


class PlainCursor:
    """The plainest way to read rows with the database's own driver, FETCH rows at a
    time: sqlite3, or a psycopg named (server-side) cursor in a read-only transaction."""

    def __init__(self, kind, url, sql, parameters):
        if kind == "sqlite":
            self.connection = sqlite3.connect(url.removeprefix("sqlite:///"))
            self.cursor = self.connection.execute(sql, parameters)
        else:
            import psycopg

            self.connection = psycopg.connect(url)
            self.connection.read_only = True
            self.cursor = self.connection.cursor(name="floor")
            self.cursor.execute(sql, parameters)

    def batches(self):
        while rows := self.cursor.fetchmany(FETCH):
            yield rows

    def close(self):
        self.cursor.close()
        self.connection.close()


def message_rows(kind, url, campaign_id):
    columns, mark = (COLUMNS, "?") if kind == "sqlite" else (
        COLUMNS.replace("updated_at", "updated_at::text"), "%s")
    return PlainCursor(kind, url, f"SELECT {columns} FROM messages WHERE campaign_id = {mark} "
                                  f"ORDER BY id", (campaign_id,))


def write_csv(cursor):
    """Write the cursor's rows into csv.writer and close it; the number of rows."""
    with open(os.devnull, "w", newline="") as sink:
        writer = csv.writer(sink)
        count = 0
        for rows in cursor.batches():
            writer.writerows(rows)
            count += len(rows)
    cursor.close()
    return count


def floor_csv(kind, url, campaign_id):
    started = time.perf_counter()
    count = write_csv(message_rows(kind, url, campaign_id))
    return count / (time.perf_counter() - started)


def report_sql(url, campaign_id):
    """The portal's own report SELECT, as SQL text and parameters, for a plain cursor."""
    os.environ.update(common.environment(url))
    from portal import create_app
    from portal import reports
    from portal.db import DriverStatement
    from portal.db import db
    from portal.models import Campaign

    app = create_app()
    with app.app_context():
        with db.engine.connect() as connection:
            campaign = db.session.get(Campaign, campaign_id)
            query = reports.report_query(connection, campaign, app.extensions["portal.plugins"],
                                         only_errors=False).order_by(reports.messages.c.id)
            statement = DriverStatement(query, connection.dialect)
            parameters = statement.compiled.construct_params()
            names = statement.compiled.positiontup
        db.session.remove()
        db.engine.dispose()
    if names is None:  # psycopg's named %(name)s parameters
        return statement.sql, parameters
    return statement.sql, [parameters[name] for name in names]


def floor_csv_report_rows(kind, url, campaign_id):
    """The same report rows, cell for cell, from a plain cursor into csv.writer: what is
    left of the gap is the portal's own overhead."""
    sql, parameters = report_sql(url, campaign_id)
    started = time.perf_counter()
    count = write_csv(PlainCursor(kind, url, sql, parameters))
    return count / (time.perf_counter() - started)


def floor_xlsx(kind, url, campaign_id):
    import xlsxwriter

    started = time.perf_counter()
    cursor = message_rows(kind, url, campaign_id)
    with tempfile.TemporaryDirectory() as folder:
        workbook = xlsxwriter.Workbook(os.path.join(folder, "floor.xlsx"),
                                       {"constant_memory": True})
        sheet = workbook.add_worksheet()
        count = 0
        for rows in cursor.batches():
            for row in rows:
                count += 1
                for column, value in enumerate(row):
                    if value is not None:
                        sheet.write_string(count, column, value)
        workbook.close()
    cursor.close()
    return count / (time.perf_counter() - started)


def download(server, cookie, path, expected_rows):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Cookie": cookie})
    response = connection.getresponse()
    assert response.status == 200, response.status
    first = response.read1(65536)
    first_bytes = time.perf_counter() - started
    size = len(first)
    while chunk := response.read1(1 << 20):
        size += len(chunk)
    elapsed = time.perf_counter() - started
    connection.close()
    return {"rows_per_s": expected_rows / elapsed, "first_bytes_s": first_bytes,
            "seconds": elapsed, "mb": size / 1e6}


def measure(kind, url, extension, floor):
    floor_rate = floor(kind, url, 1)
    report_floor = floor_csv_report_rows(kind, url, 1) if extension == "csv" else None
    with common.Gunicorn(url, workers=1) as server:
        (worker,) = server.worker_pids()
        cookie = common.SignedIn(server.url("")).cookie()
        # Signing in checks a scrypt hash, which takes 32 MiB for a moment; the peak is
        # reset after it so the figures below are the reports' own.
        at_sign_in = common.peak_memory_mb(worker)
        Path(f"/proc/{worker}/clear_refs").write_text("5")
        download(server, cookie, f"/campaigns/2/report.{extension}", common.MEDIUM)
        after_small = common.peak_memory_mb(worker)
        result = download(server, cookie, f"/campaigns/1/report.{extension}", common.BIG)
        after_big = common.peak_memory_mb(worker)
    print(f"{extension}: portal over HTTP {result['rows_per_s']:,.0f} rows/s "
          f"({result['seconds']:.2f} s, {result['mb']:.0f} MB), floor {floor_rate:,.0f} rows/s, "
          f"ratio {result['rows_per_s'] / floor_rate:.2f}")
    if report_floor:
        print(f"{extension}: floor on the report's own rows (its SELECT, a plain cursor, "
              f"csv.writer) {report_floor:,.0f} rows/s, ratio "
              f"{result['rows_per_s'] / report_floor:.2f}")
    print(f"{extension}: first bytes after {result['first_bytes_s'] * 1000:.0f} ms")
    print(f"{extension}: worker peak memory {at_sign_in:.1f} MB up to signing in; since then "
          f"{after_small:.1f} MB after 10,000 rows, {after_big:.1f} MB after 1,000,000 "
          f"(+{after_big - after_small:.1f} MB)")


def main():
    parser = common.parser(__doc__.splitlines()[0])
    floors = {"csv": floor_csv, "xlsx": floor_xlsx}
    parser.add_argument("formats", nargs="*", metavar="csv|xlsx", help="default: both")
    arguments = parser.parse_args()
    unknown = set(arguments.formats) - set(floors)
    if unknown:
        parser.error(f"unknown formats: {', '.join(sorted(unknown))}")
    with common.databases(arguments.database) as store:
        url = common.build_database(store)
        print(f"database: {arguments.database}")
        for extension in arguments.formats or list(floors):
            measure(arguments.database, url, extension, floors[extension])


if __name__ == "__main__":
    main()
