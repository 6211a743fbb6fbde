"""Importing a campaign of 1,000,000 messages from a CSV file over HTTP: how long it takes,
and the serving worker's peak resident memory.

    .venv/bin/python bench/upload.py [--database sqlite|postgresql] [ROWS]

The file is a Twilio console export cut down to the columns an import reads, plus a few it
ignores (From, Body); one row in a thousand is inbound and skipped, one in a hundred has an
invalid number. It is written to a temporary folder, and imported into a fresh migrated
database (an SQLite file, or a database on the benchmark PostgreSQL server), so the shared
benchmark database is left as it is. gunicorn (one sync worker) serves the portal on
127.0.0.1; the client signs in as an admin, and the file is streamed from disk with
http.client as a multipart form, the way a browser sends it.
"""

import http.client
import tempfile
import time
import uuid
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path

import common
import sqlalchemy as sa

HEADER = "Sid,From,To,Body,Status,Direction,ErrorCode,SentDate\r\n"
START = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


def outcome(index):
    """(recipient, status, error code) for row ``index``: mostly delivered, some errors."""
    share = index % 100
    number = f"+658{1_000_000 + index % 9_000_000:07d}"
    if share < 90:
        return number, "delivered", ""
    if share < 95:
        return number, "undelivered", "30003"
    if share < 98:
        return number, "sent", ""
    if share < 99:
        return number, "failed", "21610"
    return "+65123", "failed", "21211"


def write_file(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as out:
        out.write(HEADER)
        for index in range(rows):
            recipient, status, code = outcome(index)
            direction = "inbound" if index % 1000 == 999 else "outbound-api"
            sent = (START + timedelta(seconds=index // 100)).strftime("%a, %d %b %Y %H:%M:%S +0000")
            out.write(f"SM{index:032x},+6580000000,{recipient},Clinic opens at 9,{status},"
                      f'{direction},{code},"{sent}"\r\n')


def prepare_database(store):
    """A fresh migrated database with team Bench and the benchmark admin; (URL, team id)."""
    store.create("upload")
    url = store.url("upload")
    common.flask(url, "db", "upgrade")
    common.flask(url, "teams", "create", "Bench")
    common.flask(url, "users", "create", "--email", common.EMAIL, "--team", "Bench", "--role",
                 "admin", "--password-stdin", stdin=common.PASSWORD + "\n")
    return url, count(url, "SELECT id FROM teams WHERE name = 'Bench'")


def count(url, sql):
    database = common.engine(url)
    with database.connect() as connection:
        value = connection.execute(sa.text(sql)).scalar()
    database.dispose()
    return value


def multipart(fields, filename, boundary):
    """The form's bytes before the file's contents, and after them."""
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
             f"{value}\r\n" for name, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n')
    return "".join(parts).encode(), f"\r\n--{boundary}--\r\n".encode()


def post_file(server, cookie, fields, path):
    """POST the form with the file streamed from disk; (response, seconds to send it)."""
    boundary = uuid.uuid4().hex
    head, tail = multipart(fields, path.name, boundary)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    started = time.perf_counter()
    connection.putrequest("POST", "/campaigns/new")
    connection.putheader("Cookie", cookie)
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(head) + path.stat().st_size + len(tail)))
    connection.endheaders()
    connection.send(head)
    with open(path, "rb") as source:
        while chunk := source.read(1 << 20):
            connection.send(chunk)
    connection.send(tail)
    sent = time.perf_counter() - started
    response = connection.getresponse()
    response.read()
    connection.close()
    return response, sent


def main():
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=common.BIG)
    arguments = parser.parse_args()
    rows = arguments.rows
    with tempfile.TemporaryDirectory() as folder, common.databases(arguments.database) as store:
        path = Path(folder) / "messages.csv"
        write_file(path, rows)
        url, team_id = prepare_database(store)
        with common.Gunicorn(url, workers=1) as server:
            (worker,) = server.worker_pids()
            session = common.SignedIn(server.url(""))
            token = common.csrf_token(session.get("/campaigns/new"))
            cookie = session.cookie()  # the CSRF secret is in the session now
            before = common.peak_memory_mb(worker)
            started = time.perf_counter()
            response, sent = post_file(server, cookie, {
                "csrf_token": token, "name": "Bench import", "provider": "twilio",
                "team": team_id, "sent_at": ""}, path)
            elapsed = time.perf_counter() - started
            after = common.peak_memory_mb(worker)
            assert response.status == 303, (response.status, response.reason)
        print(f"database: {arguments.database}")
        print(f"upload of {rows:,} rows ({path.stat().st_size / 1e6:.0f} MB): "
              f"{elapsed:.1f} s ({rows / elapsed:,.0f} rows/s; the body was sent after "
              f"{sent:.1f} s), {count(url, 'SELECT count(*) FROM messages'):,} messages stored")
        print(f"worker peak memory {before:.1f} MB before the upload, {after:.1f} MB after "
              f"(+{after - before:.1f} MB)")


if __name__ == "__main__":
    main()
