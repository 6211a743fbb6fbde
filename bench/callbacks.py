"""Signed callbacks per second: the portal under gunicorn against the floor app.

    .venv/bin/python bench/callbacks.py [--messages N] [--workers W ...]

A fresh SQLite database (WAL) holds one campaign of N queued messages. The simulator plans
their callbacks (about three a message, some late, duplicated or out of order) and posts
them, signed, from client threads. Each server runs on 127.0.0.1 with gunicorn and W sync
workers, on its own copy of the database. Afterwards: every callback accounted for in the
status event log, no 5xx, and the counts equal to the rows.
"""

import argparse
import os
import random
import sqlite3
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import common

TOKEN = "bench-auth-token"
ACCOUNT = "AC" + "b" * 32
CLIENT_THREADS = 8


def build(folder, size):
    path = Path(folder) / "callbacks.db"
    env = {**os.environ, "PORTAL_DATABASE_URL": f"sqlite:///{path}"}
    flask = [str(common.BIN / "flask"), "--app", "portal"]
    subprocess.run([*flask, "db", "upgrade"], env=env, check=True, capture_output=True)
    os.environ.update(env)
    from portal import create_app
    from portal import demo
    from portal.db import db
    from portal.db import utcnow

    app = create_app()
    with app.app_context(), db.engine.begin() as connection:
        provider = app.extensions["portal.plugins"].providers()["twilio"]
        team = demo.ensure_teams(connection)[0]
        demo.INVALID_SHARE = 0
        demo.add_campaign(connection, provider, team, "Callback benchmark", size, utcnow(),
                          (("queued", None, 1),), random.Random(1))
    return path


def copy_database(source, target):
    """A consistent copy, WAL included (a file copy would miss what the WAL still holds)."""
    with sqlite3.connect(source) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)


def serve(command, env, port):
    process = subprocess.Popen(command, env=env, cwd=common.ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except urllib.error.HTTPError:  # any answer means it is up
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command[0]} did not start")


def replay(port, callbacks):
    from portal import simulator

    sender = simulator.Sender(f"http://127.0.0.1:{port}/callbacks/twilio", TOKEN, ACCOUNT)
    started = time.perf_counter()
    answers = sender.send_all(callbacks, workers=CLIENT_THREADS)
    return len(callbacks) / (time.perf_counter() - started), answers


def run_portal(database, workers, callbacks, port=5093):
    env = {**os.environ, "PORTAL_DATABASE_URL": f"sqlite:///{database}",
           "PORTAL_TWILIO_AUTH_TOKEN": TOKEN, "PORTAL_TWILIO_ACCOUNT_SID": ACCOUNT,
           "PORTAL_LOG_LEVEL": "WARNING"}
    process = serve([str(common.BIN / "gunicorn"), "-w", str(workers), "-b",
                     f"127.0.0.1:{port}", "portal:create_app()"], env, port)
    try:
        started = time.perf_counter()
        rate, answers = replay(port, callbacks)
        waiting = sqlite3.connect(database)
        while waiting.execute("SELECT count(*) FROM status_events WHERE outcome = 'received'"
                              ).fetchone()[0] and time.perf_counter() - started < 600:
            time.sleep(0.05)
        applied_rate = len(callbacks) / (time.perf_counter() - started)
        waiting.close()
    finally:
        process.terminate()
        process.wait()
    check = sqlite3.connect(database)
    logged = check.execute("SELECT count(*) FROM status_events WHERE source = 'callback' "
                           "AND signature_ok = 1 AND outcome IN ('applied', 'ignored')"
                           ).fetchone()[0]
    counts = check.execute("SELECT sum(count) FROM campaign_counts").fetchone()[0]
    rows = check.execute("SELECT count(*) FROM messages").fetchone()[0]
    differing = check.execute(
        "SELECT count(*) FROM (SELECT status, provider_status, error_code, count(*) AS n "
        "FROM messages GROUP BY 1, 2, 3) AS actual LEFT JOIN campaign_counts AS kept "
        "ON kept.status = actual.status AND kept.provider_status = coalesce("
        "actual.provider_status, '') AND kept.error_code = coalesce(actual.error_code, '') "
        "WHERE kept.count IS NOT actual.n").fetchone()[0]
    check.close()
    return rate, applied_rate, answers, logged, counts == rows and differing == 0


def run_floor(database, workers, callbacks, port=5094):
    env = {**os.environ, "FLOOR_DATABASE": str(database), "FLOOR_AUTH_TOKEN": TOKEN}
    process = serve([str(common.BIN / "gunicorn"), "-w", str(workers), "-b",
                     f"127.0.0.1:{port}", "bench.floor_app:create()"], env, port)
    try:
        return replay(port, callbacks)
    finally:
        process.terminate()
        process.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    arguments = parser.parse_args()
    from portal import simulator

    with tempfile.TemporaryDirectory() as folder:
        template = build(folder, arguments.messages)
        sids = [row[0] for row in sqlite3.connect(template).execute(
            "SELECT provider_message_id FROM messages ORDER BY id")]
        callbacks = simulator.plan(sids, random.Random(2))
        print(f"{len(callbacks):,} signed callbacks for {len(sids):,} messages, "
              f"{CLIENT_THREADS} client threads")
        for workers in arguments.workers:
            portal_db = Path(folder) / f"portal-{workers}.db"
            floor_db = Path(folder) / f"floor-{workers}.db"
            copy_database(template, portal_db)
            copy_database(template, floor_db)
            floor_rate, floor_answers = run_floor(floor_db, workers, callbacks)
            rate, applied, answers, logged, counts_ok = run_portal(portal_db, workers,
                                                                   callbacks)
            print(f"{workers} workers: portal answered {rate:,.0f} callbacks/s {answers}, "
                  f"all applied at {applied:,.0f}/s; floor {floor_rate:,.0f}/s "
                  f"{floor_answers}; ratio {rate / floor_rate:.2f} answered, "
                  f"{applied / floor_rate:.2f} applied")
            print(f"{workers} workers: {logged:,} of {len(callbacks):,} callbacks in the event "
                  f"log as applied or ignored; counts equal the rows: {counts_ok}")


if __name__ == "__main__":
    main()
