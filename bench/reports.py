"""Delivery reports over HTTP against the same rows written by the plainest tools.

    .venv/bin/python bench/reports.py [csv|xlsx ...]

The portal runs under gunicorn (one sync worker) on 127.0.0.1 with the benchmark database.
For each format: rows per second over HTTP for the campaign of 1,000,000 recipients, the
time to the first bytes, and the worker's peak resident memory after exporting 10,000 rows
and then 1,000,000 (a fresh worker for each format). The floors, in the same run:
a plain sqlite3 cursor feeding csv.writer, and XlsxWriter in constant_memory mode, both
over the same message rows.
"""

import csv
import http.client
import os
import sqlite3
import sys
import tempfile
import time

import common

COLUMNS = "recipient, status, provider_status, error_code, provider_message_id, updated_at"


def plain_rows(campaign_id):
    connection = sqlite3.connect(common.DATABASE)
    cursor = connection.execute(
        f"SELECT {COLUMNS} FROM messages WHERE campaign_id = ? ORDER BY id", (campaign_id,))
    cursor.arraysize = 5000
    return connection, cursor


def floor_csv(campaign_id):
    started = time.perf_counter()
    connection, cursor = plain_rows(campaign_id)
    with open(os.devnull, "w", newline="") as sink:
        writer = csv.writer(sink)
        count = 0
        while rows := cursor.fetchmany():
            writer.writerows(rows)
            count += len(rows)
    connection.close()
    return count / (time.perf_counter() - started)


def report_sql(campaign_id):
    """The portal's own report SELECT, as SQL text and parameters, for a plain cursor."""
    os.environ.update(common.environment())
    from portal import create_app
    from portal import reports
    from portal.db import DriverStatement
    from portal.db import db
    from portal.models import Campaign

    app = create_app()
    with app.app_context(), db.engine.connect() as connection:
        campaign = db.session.get(Campaign, campaign_id)
        query = reports.report_query(connection, campaign, app.extensions["portal.plugins"],
                                     only_errors=False).order_by(reports.messages.c.id)
        statement = DriverStatement(query, connection.dialect)
        parameters = statement.compiled.construct_params()
        return statement.sql, [parameters[name] for name in statement.compiled.positiontup]


def floor_csv_report_rows(campaign_id):
    """The same report rows, cell for cell, from a plain cursor into csv.writer: what is
    left of the gap is the portal's own overhead."""
    sql, parameters = report_sql(campaign_id)
    started = time.perf_counter()
    connection = sqlite3.connect(common.DATABASE)
    cursor = connection.execute(sql, parameters)
    cursor.arraysize = 5000
    with open(os.devnull, "w", newline="") as sink:
        writer = csv.writer(sink)
        count = 0
        while rows := cursor.fetchmany():
            writer.writerows(rows)
            count += len(rows)
    connection.close()
    return count / (time.perf_counter() - started)


def floor_xlsx(campaign_id):
    import xlsxwriter

    started = time.perf_counter()
    connection, cursor = plain_rows(campaign_id)
    with tempfile.TemporaryDirectory() as folder:
        workbook = xlsxwriter.Workbook(os.path.join(folder, "floor.xlsx"),
                                       {"constant_memory": True})
        sheet = workbook.add_worksheet()
        count = 0
        while rows := cursor.fetchmany():
            for row in rows:
                count += 1
                for column, value in enumerate(row):
                    if value is not None:
                        sheet.write_string(count, column, value)
        workbook.close()
    connection.close()
    return count / (time.perf_counter() - started)


def download(server, path, expected_rows):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    started = time.perf_counter()
    connection.request("GET", path)
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


def measure(extension, floor):
    floor_rate = floor(1)
    report_floor = floor_csv_report_rows(1) if extension == "csv" else None
    server = common.Gunicorn(workers=1)
    try:
        (worker,) = server.worker_pids()
        download(server, f"/campaigns/2/report.{extension}", common.MEDIUM)
        after_small = common.peak_memory_mb(worker)
        result = download(server, f"/campaigns/1/report.{extension}", common.BIG)
        after_big = common.peak_memory_mb(worker)
    finally:
        server.close()
    print(f"{extension}: portal over HTTP {result['rows_per_s']:,.0f} rows/s "
          f"({result['seconds']:.2f} s, {result['mb']:.0f} MB), floor {floor_rate:,.0f} rows/s, "
          f"ratio {result['rows_per_s'] / floor_rate:.2f}")
    if report_floor:
        print(f"{extension}: floor on the report's own rows (its SELECT, a plain cursor, "
              f"csv.writer) {report_floor:,.0f} rows/s, ratio "
              f"{result['rows_per_s'] / report_floor:.2f}")
    print(f"{extension}: first bytes after {result['first_bytes_s'] * 1000:.0f} ms")
    print(f"{extension}: worker peak memory {after_small:.1f} MB after 10,000 rows, "
          f"{after_big:.1f} MB after 1,000,000 (+{after_big - after_small:.1f} MB)")


def main():
    common.build_database()
    formats = sys.argv[1:] or ["csv", "xlsx"]
    floors = {"csv": floor_csv, "xlsx": floor_xlsx}
    for extension in formats:
        measure(extension, floors[extension])


if __name__ == "__main__":
    main()
