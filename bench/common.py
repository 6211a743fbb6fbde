"""Shared by the benchmarks: the ``--database sqlite|postgresql`` option, the databases of a
run, the benchmark database (built once), signing in, and gunicorn on 127.0.0.1.

On SQLite the benchmark database is bench/results/bench.db and the throwaway ones are files
in a temporary folder. On PostgreSQL every script starts its own server for the run, with
the default durability settings (fsync, synchronous_commit and full_page_writes on), on
127.0.0.1:54330, and stops it at the end, also on errors. Its data directory,
/tmp/portal-bench-pg-54330, is kept between runs because it holds the benchmark database
(database ``bench``); the throwaway databases of a run are dropped before the server stops.

    .venv/bin/python bench/common.py clean    # stop that server if it runs, remove its data
"""

import argparse
import contextlib
import hashlib
import http.cookiejar
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
BIG = 1_000_000
SMALL = 1_000
MEDIUM = 10_000
DASHBOARD_CAMPAIGNS = 10_000
KINDS = ("sqlite", "postgresql")
BENCH = "bench"
EMAIL = "bench@portal.bench"
PASSWORD = "bench-password-2026"

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_PORT = 54330
PG_DATA = Path(f"/tmp/portal-bench-pg-{PG_PORT}")
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []


def parser(description):
    """An argument parser with the shared ``--database`` option."""
    made = argparse.ArgumentParser(description=description)
    made.add_argument("--database", choices=KINDS, default="sqlite",
                      help="the database the portal (and the floors) run on")
    return made


def environment(url, **extra):
    return {**os.environ, "PORTAL_DATABASE_URL": url, "PORTAL_LOG_LEVEL": "WARNING", **extra}


def flask(url, *args, stdin=None):
    """Run ``flask --app portal ARGS`` on ``url``; its output, or an error with its stderr."""
    done = subprocess.run([str(BIN / "flask"), "--app", "portal", *args], env=environment(url),
                          cwd=ROOT, input=stdin, text=True, capture_output=True)
    if done.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


class SQLiteFiles:
    """SQLite databases as files: kept ones in bench/results/, the others in a temporary
    folder that goes at the end of the run."""

    kind = "sqlite"

    def __init__(self, scratch):
        self.scratch = Path(scratch)

    def path(self, name, kept=False):
        return (RESULTS if kept else self.scratch) / f"{name}.db"

    def url(self, name, kept=False):
        return f"sqlite:///{self.path(name, kept)}"

    def exists(self, name, kept=False):
        return self.path(name, kept).exists()

    def create(self, name, kept=False):
        """An empty database (the file is made at the first connection)."""
        self.drop(name, kept)
        self.path(name, kept).parent.mkdir(parents=True, exist_ok=True)

    def drop(self, name, kept=False):
        path = self.path(name, kept)
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)

    def settle(self, name, kept=False):
        """Nothing to do: SQLite has no background maintenance (the portal runs no ANALYZE)."""

    def rename(self, old, new, kept=False):
        """Closing the last connection folds the WAL into the file and removes it, so the
        file alone is the whole database."""
        path = self.path(old, kept)
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        assert not path.with_name(path.name + "-wal").exists(), "the WAL is still there"
        self.drop(new, kept)
        os.replace(path, self.path(new, kept))

    def copy(self, source, target):
        """A consistent copy, WAL included (a file copy would miss what the WAL holds)."""
        self.drop(target)
        with sqlite3.connect(self.path(source)) as origin:
            with sqlite3.connect(self.path(target)) as copy:
                origin.backup(copy)


class PostgresServer:
    """The benchmark's own PostgreSQL 15 server: default durability, 127.0.0.1 only."""

    kind = "postgresql"

    def __init__(self):
        self.scratch = set()

    def pg_ctl(self, *args):
        subprocess.run([*AS_POSTGRES, str(PG_BIN / "pg_ctl"), "-D", str(PG_DATA), *args],
                       check=True, stdout=subprocess.DEVNULL)

    def running(self):
        return subprocess.run([*AS_POSTGRES, str(PG_BIN / "pg_ctl"), "-D", str(PG_DATA),
                               "status"], stdout=subprocess.DEVNULL).returncode == 0

    def start(self):
        if not (PG_DATA / "PG_VERSION").exists():
            shutil.rmtree(PG_DATA, ignore_errors=True)
            PG_DATA.mkdir(parents=True)
            shutil.chown(PG_DATA, "postgres", "postgres")
            subprocess.run([*AS_POSTGRES, str(PG_BIN / "initdb"), "-D", str(PG_DATA),
                            "-U", "postgres", "--auth=trust", "-E", "UTF8",
                            "--locale=C.UTF-8"], check=True, stdout=subprocess.DEVNULL)
        if self.running():  # left behind by a run that was killed
            self.pg_ctl("-m", "fast", "-w", "stop")
        self.pg_ctl("-l", str(PG_DATA / "server.log"), "-w", "-o",
                    f"-c listen_addresses=127.0.0.1 -c port={PG_PORT} -k /tmp", "start")

    def stop(self):
        """Drop the run's throwaway databases and stop; a server already gone (stopped by
        ``clean``) is no second error on top of the one that may be on its way."""
        if not self.running():
            return
        try:
            for name in sorted(self.scratch):
                self.drop(name)
        finally:
            self.pg_ctl("-m", "fast", "-w", "stop")

    def url(self, name, kept=False):
        return f"postgresql://postgres@127.0.0.1:{PG_PORT}/{name}"

    def admin(self, sql, parameters=()):
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            cursor = connection.execute(sql, parameters or None)
            return cursor.fetchall() if cursor.description else None

    def exists(self, name, kept=False):
        return bool(self.admin("SELECT 1 FROM pg_database WHERE datname = %s", (name,)))

    def create(self, name, kept=False, template=None):
        self.drop(name)
        self.admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        if not kept:
            self.scratch.add(name)

    def drop(self, name, kept=False):
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.scratch.discard(name)

    def settle(self, name, kept=False):
        """What autovacuum would do in the first minutes after a big load (vacuum, visibility
        map, hint bits, planner statistics), done now, so that it does not run during the
        measurements and they see the database in its steady state."""
        import psycopg

        with psycopg.connect(self.url(name), autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE)")

    def rename(self, old, new, kept=False):
        self.admin(f"ALTER DATABASE {old} RENAME TO {new}")

    def copy(self, source, target):
        self.create(target, template=source)


@contextlib.contextmanager
def databases(kind):
    """The databases of one run, as SQLiteFiles or a started PostgresServer; throwaway
    databases and the server are gone when the block ends, also on errors."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield SQLiteFiles(folder)
        return
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def engine(url):
    """An SQLAlchemy engine on ``url`` (PostgreSQL through psycopg, as the portal)."""
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def migrations_fingerprint():
    """A hash of the migration files: a database built from other migrations (even an
    edited one with the same revision) is rebuilt."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "portal" / "migrations" / "versions").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_database(store):
    """The benchmark database's URL, built first if it is missing or was built from other
    migrations than the checkout's (bench/results/bench-KIND.migrations says which ones):
    campaigns of 1,000,000, 10,000 and 1,000 recipients (ids 1, 2, 3), 10,000 small
    campaigns whose counts are filled in directly (for the dashboard), and an admin to sign
    in as. It is built under another name, settled (see PostgresServer.settle) and renamed
    when complete, so an interrupted build is never taken for a finished one."""
    url = store.url(BENCH, kept=True)
    stamp = RESULTS / f"{BENCH}-{store.kind}.migrations"
    fingerprint = migrations_fingerprint()
    if store.exists(BENCH, kept=True) and stamp.exists() and stamp.read_text() == fingerprint:
        return url
    store.drop(BENCH, kept=True)
    stamp.unlink(missing_ok=True)
    building = f"{BENCH}_building"
    store.create(building, kept=True)
    target = store.url(building, kept=True)
    started = time.perf_counter()
    flask(target, "db", "upgrade")
    for size in (BIG, MEDIUM, SMALL):
        flask(target, "demo", "--campaign-size", str(size))
    add_dashboard_campaigns(target)
    flask(target, "users", "create", "--email", EMAIL, "--team", "Public Health Office",
          "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    store.settle(building, kept=True)
    store.rename(building, BENCH, kept=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)
    print(f"built the {store.kind} benchmark database in {time.perf_counter() - started:.0f} s",
          flush=True)
    return url


def add_dashboard_campaigns(url):
    os.environ.update(environment(url))
    from portal import counters
    from portal import create_app
    from portal import demo
    from portal.db import db
    from portal.db import utcnow
    from portal.models import Campaign

    app = create_app()
    rng = random.Random(7)
    with app.app_context():
        with db.engine.begin() as connection:
            team_id = demo.ensure_teams(connection)[1]
            now = utcnow()
            rows = [{"team_id": team_id, "name": f"Notice {n:05d} {rng.choice(demo.TEAMS)}",
                     "provider": "twilio", "sent_at": now - timedelta(minutes=n),
                     "created_at": now} for n in range(DASHBOARD_CAMPAIGNS)]
            connection.execute(sa.insert(Campaign), rows)
            ids = connection.execute(sa.select(Campaign.id).order_by(Campaign.id.desc())
                                     .limit(DASHBOARD_CAMPAIGNS)).scalars().all()
            for campaign_id in ids:
                for (status, code), weight in ((("delivered", None), 900),
                                               (("sent", None), 50),
                                               (("undelivered", "30003"), 30),
                                               (("queued", None), rng.choice((0, 20)))):
                    if weight:
                        known = {"delivered": "SENT", "sent": "SENT", "undelivered": "ERROR",
                                 "queued": "QUEUED"}[status]
                        counters.add(connection, campaign_id,
                                     counters.bucket(known, status, code), weight)
        db.engine.dispose()  # PostgreSQL renames no database that has connections


def csrf_token(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in_client(client):
    """Sign a Flask test client in as the benchmark admin, through the sign-in form."""
    token = csrf_token(client.get("/sign-in").get_data(as_text=True))
    answer = client.post("/sign-in", data={"email": EMAIL, "password": PASSWORD,
                                           "csrf_token": token, "next": "/healthz"})
    assert answer.status_code == 302, answer.status_code


class SignedIn:
    """A session over HTTP, signed in as the benchmark admin through the sign-in form;
    ``cookie()`` is its Cookie header, for other HTTP clients."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        form = {"email": EMAIL, "password": PASSWORD, "next": "/healthz",
                "csrf_token": csrf_token(self.get("/sign-in"))}
        self.opener.open(base_url + "/sign-in", data=urllib.parse.urlencode(form).encode())
        assert "session=" in self.cookie(), "the sign-in gave no session"

    def get(self, path):
        return self.opener.open(self.base_url + path).read().decode()

    def cookie(self):
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.jar)


def median_ms(function, repeat):
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


class Gunicorn:
    """``gunicorn -w W -b 127.0.0.1:PORT --timeout 300 APP``: sync workers, the same
    settings on both databases. Its log goes to a temporary file (a pipe nobody reads
    could fill and stop the server), shown if it does not start or the block using it
    fails."""

    def __init__(self, url, workers=1, port=5091, app="portal:create_app()", env=None):
        self.port = port
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
             "--timeout", "300", app],
            env=env or environment(url), cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=self.log)
        try:
            self.wait_until_up()
        except BaseException:
            self.close()
            raise

    def wait_until_up(self):
        for _ in range(300):
            if self.process.poll() is not None:
                break
            try:
                urllib.request.urlopen(self.url("/healthz"), timeout=1).read()
                return
            except urllib.error.HTTPError:  # any answer means it is up (the floor app)
                return
            except OSError:
                time.sleep(0.1)
        self.log.seek(0)
        raise RuntimeError("gunicorn did not start: " + self.log.read().decode())

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def worker_pids(self):
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        if error is not None:  # what the server logged says why, most of the time
            self.log.seek(0)
            print(self.log.read().decode()[-4000:], file=sys.stderr)
        self.close()


def peak_memory_mb(pid):
    """The process's high-water mark of resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def clean():
    """Stop the benchmark PostgreSQL server if it runs and remove its data directory."""
    if (PG_DATA / "PG_VERSION").exists() and PostgresServer().running():
        PostgresServer().pg_ctl("-m", "fast", "-w", "stop")
    shutil.rmtree(PG_DATA, ignore_errors=True)
    (RESULTS / f"{BENCH}-postgresql.migrations").unlink(missing_ok=True)
    print(f"removed {PG_DATA}")


if __name__ == "__main__":
    if sys.argv[1:] != ["clean"]:
        sys.exit("usage: bench/common.py clean")
    clean()
