"""Signed callbacks per second: the portal under gunicorn against the floor app.

    .venv/bin/python bench/callbacks.py [--database sqlite|postgresql] [--messages N]
                                        [--workers W ...] [--rounds R]

A fresh database (SQLite in WAL mode, or a database on the benchmark PostgreSQL server)
holds one campaign of N queued messages. The simulator plans their callbacks (about three a
message, some late, duplicated or out of order) and posts them, signed, from client
threads. Each server runs on 127.0.0.1 with gunicorn and W sync workers, on its own fresh
copy of the database: floor_app.py (checks the signature, updates one row, on the same kind
of database, without the portal's counting trigger) and the portal, which has applied each
callback by the time it answers. With R rounds the two take turns going first, and the
median of the R ratios is printed: on a small machine the rate drifts by a few hundredths
from one minute to the next.
After each portal run: every callback accounted for in the status event log, no 5xx, and
the counts equal to the rows.
"""

import os
import random
import statistics
import time

import common
import sqlalchemy as sa

TOKEN = "bench-auth-token"
ACCOUNT = "AC" + "b" * 32
CLIENT_THREADS = 8
TEMPLATE = "callbacks_template"


def build(store, size):
    store.create(TEMPLATE)
    url = store.url(TEMPLATE)
    common.flask(url, "db", "upgrade")
    os.environ.update(common.environment(url))
    from portal import create_app
    from portal import demo
    from portal.db import db
    from portal.db import utcnow

    app = create_app()
    with app.app_context():
        with db.engine.begin() as connection:
            provider = app.extensions["portal.plugins"].providers()["twilio"]
            team = demo.ensure_teams(connection)[0]
            demo.INVALID_SHARE = 0
            demo.add_campaign(connection, provider, team, "Callback benchmark", size,
                              utcnow(), (("queued", None, 1),), random.Random(1))
        db.engine.dispose()  # PostgreSQL copies no template that has connections
    return url


def message_sids(url):
    database = common.engine(url)
    with database.connect() as connection:
        sids = connection.execute(sa.text(
            "SELECT provider_message_id FROM messages ORDER BY id")).scalars().all()
    database.dispose()
    return sids


def replay(port, callbacks):
    from portal import simulator

    sender = simulator.Sender(f"http://127.0.0.1:{port}/callbacks/twilio", TOKEN, ACCOUNT)
    started = time.perf_counter()
    answers = sender.send_all(callbacks, workers=CLIENT_THREADS)
    return len(callbacks) / (time.perf_counter() - started), answers


def check(connection, kind):
    """(callbacks logged as applied or ignored, whether the counts equal the rows)."""
    logged = connection.execute(sa.text(
        "SELECT count(*) FROM status_events WHERE source = 'callback' AND signature_ok "
        "AND outcome IN ('applied', 'ignored')")).scalar()
    counts = connection.execute(sa.text("SELECT sum(count) FROM campaign_counts")).scalar()
    rows = connection.execute(sa.text("SELECT count(*) FROM messages")).scalar()
    differs = "IS NOT" if kind == "sqlite" else "IS DISTINCT FROM"
    differing = connection.execute(sa.text(
        "SELECT count(*) FROM (SELECT status, provider_status, error_code, count(*) AS n "
        "FROM messages GROUP BY 1, 2, 3) AS actual LEFT JOIN campaign_counts AS kept "
        "ON kept.status = actual.status AND kept.provider_status = coalesce("
        "actual.provider_status, '') AND kept.error_code = coalesce(actual.error_code, '') "
        f"WHERE kept.count {differs} actual.n")).scalar()
    return logged, counts == rows and differing == 0


def run_portal(kind, url, workers, callbacks, port=5093):
    env = common.environment(url, PORTAL_TWILIO_AUTH_TOKEN=TOKEN,
                             PORTAL_TWILIO_ACCOUNT_SID=ACCOUNT)
    database = common.engine(url)
    try:
        with common.Gunicorn(url, workers, port, env=env):
            rate, answers = replay(port, callbacks)
        with database.connect() as connection:
            logged, counts_ok = check(connection, kind)
    finally:
        database.dispose()
    return rate, answers, logged, counts_ok


def without_counting(url):
    """The floor updates one row and nothing else: its copy of the database loses the
    trigger that moves the portal's counts with every status change."""
    database = common.engine(url)
    with database.begin() as connection:
        on = "" if connection.dialect.name == "sqlite" else " ON messages"
        connection.exec_driver_sql(f"DROP TRIGGER messages_count_status_change{on}")
    database.dispose()


def run_floor(kind, url, workers, callbacks, port=5094):
    without_counting(url)
    where = ({"FLOOR_DATABASE": url.removeprefix("sqlite:///")} if kind == "sqlite"
             else {"FLOOR_DATABASE_URL": url})
    env = {**os.environ, "FLOOR_AUTH_TOKEN": TOKEN, **where}
    with common.Gunicorn(url, workers, port, app="bench.floor_app:create()", env=env):
        return replay(port, callbacks)


def one_round(kind, store, workers, callbacks, portal_first):
    """The floor and the portal, each on a fresh copy of the database, in the order asked:
    (portal rate, floor rate, portal answers, floor answers, logged, counts equal)."""
    portal_db, floor_db = f"portal_{workers}", f"floor_{workers}"
    for name in (portal_db, floor_db):
        store.drop(name)
        store.copy(TEMPLATE, name)
    result = {}
    for side in (("portal", "floor") if portal_first else ("floor", "portal")):
        if side == "floor":
            result["floor"] = run_floor(kind, store.url(floor_db), workers, callbacks)
        else:
            result["portal"] = run_portal(kind, store.url(portal_db), workers, callbacks)
    rate, answers, logged, counts_ok = result["portal"]
    floor_rate, floor_answers = result["floor"]
    return rate, floor_rate, answers, floor_answers, logged, counts_ok


def main():
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    parser.add_argument("--rounds", type=int, default=1,
                        help="floor and portal pairs per worker count, each pair in the "
                             "other order than the one before")
    arguments = parser.parse_args()
    if arguments.rounds < 1:
        parser.error("--rounds must be 1 or more")
    kind = arguments.database
    from portal import simulator

    with common.databases(kind) as store:
        sids = message_sids(build(store, arguments.messages))
        callbacks = simulator.plan(sids, random.Random(2))
        print(f"database: {kind}")
        print(f"{len(callbacks):,} signed callbacks for {len(sids):,} messages, "
              f"{CLIENT_THREADS} client threads")
        for workers in arguments.workers:
            ratios = []
            for number in range(arguments.rounds):
                portal_first = number % 2 == 1
                rate, floor_rate, answers, floor_answers, logged, counts_ok = one_round(
                    kind, store, workers, callbacks, portal_first)
                ratios.append(rate / floor_rate)
                first = "portal" if portal_first else "floor"
                print(f"{workers} workers ({first} first): portal {rate:,.0f} callbacks/s "
                      f"{answers}; floor {floor_rate:,.0f}/s {floor_answers}; ratio "
                      f"{ratios[-1]:.2f}")
                print(f"{workers} workers: {logged:,} of {len(callbacks):,} callbacks in the "
                      f"event log as applied or ignored; counts equal the rows: {counts_ok}")
            if len(ratios) > 1:
                # Three decimals: the target is 0.8, and 0.795 and 0.805 both print as 0.80.
                print(f"{workers} workers: median ratio {statistics.median(ratios):.3f} of "
                      f"{len(ratios)} rounds ({min(ratios):.2f} to {max(ratios):.2f})")


if __name__ == "__main__":
    main()
