"""Shared by the benchmarks: the benchmark database, built once under bench/results/, and a
gunicorn server started on 127.0.0.1 for the HTTP measurements."""

import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATABASE = RESULTS / "bench.db"
BIN = Path(sys.executable).parent
BIG = 1_000_000
SMALL = 1_000
MEDIUM = 10_000
DASHBOARD_CAMPAIGNS = 10_000


def environment():
    return {**os.environ, "PORTAL_DATABASE_URL": f"sqlite:///{DATABASE}",
            "PORTAL_LOG_LEVEL": "WARNING"}


def flask(*args):
    subprocess.run([str(BIN / "flask"), "--app", "portal", *args], check=True,
                   env=environment(), cwd=ROOT, stdout=subprocess.DEVNULL)


def build_database():
    """Campaigns of 1,000,000, 10,000 and 1,000 recipients (ids 1, 2, 3), then 10,000 small
    campaigns whose counts are filled in directly, for the dashboard."""
    if DATABASE.exists():
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    flask("db", "upgrade")
    for size in (BIG, MEDIUM, SMALL):
        flask("demo", "--campaign-size", str(size))
    print(f"built {DATABASE.name} in {time.perf_counter() - started:.0f} s", flush=True)

    os.environ.update(environment())
    from portal import counters
    from portal import create_app
    from portal import demo
    from portal.db import db
    from portal.db import utcnow
    from portal.models import Campaign

    app = create_app()
    rng = random.Random(7)
    with app.app_context(), db.engine.begin() as connection:
        team_id = demo.ensure_teams(connection)[1]
        now = utcnow()
        rows = [{"team_id": team_id, "name": f"Notice {n:05d} {rng.choice(demo.TEAMS)}",
                 "provider": "twilio", "sent_at": now - timedelta(minutes=n),
                 "created_at": now} for n in range(DASHBOARD_CAMPAIGNS)]
        connection.execute(sa.insert(Campaign), rows)
        ids = connection.execute(sa.select(Campaign.id).order_by(Campaign.id.desc())
                                 .limit(DASHBOARD_CAMPAIGNS)).scalars().all()
        for campaign_id in ids:
            for (status, code), weight in ((("delivered", None), 900), (("sent", None), 50),
                                           (("undelivered", "30003"), 30),
                                           (("queued", None), rng.choice((0, 20)))):
                if weight:
                    known = {"delivered": "SENT", "sent": "SENT", "undelivered": "ERROR",
                             "queued": "QUEUED"}[status]
                    counters.add(connection, campaign_id,
                                 counters.bucket(known, status, code), weight)


def median_ms(function, repeat):
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


class Gunicorn:
    """``gunicorn 'portal:create_app()'`` on 127.0.0.1 with the benchmark database."""

    def __init__(self, workers=1, port=5091, extra=()):
        self.port = port
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
             "--timeout", "300", *extra, "portal:create_app()"],
            env=environment(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(200):
            try:
                urllib.request.urlopen(self.url("/guide"), timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start: " + self.process.stderr.read().decode())

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def worker_pids(self):
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def peak_memory_mb(pid):
    """The process's high-water mark of resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")
