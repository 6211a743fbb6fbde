"""How long ``flask --app portal demo --campaign-size 1000000`` takes on a fresh database.

    .venv/bin/python bench/demo_speed.py [--database sqlite|postgresql]

The database is an SQLite file in a temporary folder, or a fresh database on the benchmark
PostgreSQL server; it is migrated first, outside the timing.
"""

import time

import common


def main():
    arguments = common.parser(__doc__.splitlines()[0]).parse_args()
    with common.databases(arguments.database) as store:
        store.create("demo_speed")
        url = store.url("demo_speed")
        common.flask(url, "db", "upgrade")
        started = time.perf_counter()
        common.flask(url, "demo", "--campaign-size", str(common.BIG))
        elapsed = time.perf_counter() - started
    print(f"database: {arguments.database}")
    print(f"demo --campaign-size {common.BIG:,}: {elapsed:.1f} s")


if __name__ == "__main__":
    main()
