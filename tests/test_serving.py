"""Serving for real: request ids and structured log lines, a snapshot for reports while
statuses change, and gunicorn finishing a download in flight when it is told to stop."""

import csv
import http.client
import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from portal import counters
from portal import observability
from portal import reports
from portal.db import db
from portal.db import utcnow
from portal.db import write_transaction
from portal.models import Campaign
from portal.models import Message
from tests.conftest import PASSWORD
from tests.conftest import settings


def test_every_response_carries_a_request_id(client):
    response = client.get("/guide")
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["X-Request-ID"])
    given = client.get("/guide", headers={"X-Request-ID": "edge-1234"})
    assert given.headers["X-Request-ID"] == "edge-1234"
    odd = client.get("/guide", headers={"X-Request-ID": "has spaces and; semicolons"})
    assert odd.headers["X-Request-ID"] != "has spaces and; semicolons"


def test_one_json_line_per_request_with_its_fields(client):
    stream = io.StringIO()
    handler = observability.make_handler("json", stream)
    logging.getLogger().addHandler(handler)
    try:
        response = client.get("/guide", headers={"X-Request-ID": "trace-42"})
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    request_lines = [line for line in lines if line["logger"] == "portal.requests"]
    assert len(request_lines) == 1
    line = request_lines[0]
    assert line["request_id"] == "trace-42" == response.headers["X-Request-ID"]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/guide", 200)
    assert line["duration_ms"] >= 0


def logged_lines(client, *requests):
    stream = io.StringIO()
    handler = observability.make_handler("json", stream)
    logging.getLogger().addHandler(handler)
    try:
        answers = [client.open(path, method=method, headers=headers)
                   for method, path, headers in requests]
        for answer in answers:
            answer.close()  # a static file's answer holds the file open
    finally:
        logging.getLogger().removeHandler(handler)
    return answers, [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_line_of_a_request_carries_its_id_and_static_files_are_not_logged(client):
    forged = ("POST", "/callbacks/twilio", {"X-Request-ID": "cb-7"})
    style = ("GET", "/static/portal.css", {"X-Request-ID": "css-1"})
    (refused, stylesheet), lines = logged_lines(client, forged, style)
    assert refused.status_code == 403 and stylesheet.status_code == 200
    assert stylesheet.headers["X-Request-ID"] == "css-1"
    warning = [line for line in lines if line["logger"] == "portal.views.callbacks"]
    requests = [line for line in lines if line["logger"] == "portal.requests"]
    assert [line["request_id"] for line in warning] == ["cb-7"]
    assert [(line["request_id"], line["path"], line["status"]) for line in requests] == [
        ("cb-7", "/callbacks/twilio", 403)]


def test_a_report_is_one_moment_while_statuses_change(app, make_campaign):
    size = reports.PAGE_ROWS * 2 + 17
    campaign_id = make_campaign("Busy", [(f"+6581{n:06d}", "queued", None)
                                         for n in range(size)])
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        plugins = app.extensions["portal.plugins"]
        exporter = plugins.exporters()["csv"]
        body = reports.stream(db.engine, campaign, plugins, exporter, only_errors=False)
        first = next(body)  # the writer has taken its snapshot and sent its first rows
        with write_transaction(db.engine) as connection:
            ids = connection.execute(sa.select(Message.provider_message_id).where(
                Message.campaign_id == campaign_id)).scalars().all()
            for message_id in ids:
                counters.apply_change(connection, message_id, counters.Change(
                    "SENT", "delivered", None, 60, utcnow()))
        data = first + b"".join(body)
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1:]
        with db.engine.connect() as connection:
            after = counters.stored(connection, campaign_id)
    assert len(rows) == size
    assert Counter(row[1] for row in rows) == {"QUEUED": size}  # as it was when it began
    assert after == {("SENT", "delivered", ""): size}  # while the database moved on


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(port, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start")


def sign_in(port, email):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/sign-in")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = f"email={email}&password={PASSWORD.replace(' ', '+')}&csrf_token={token}&next=/"
    connection.request("POST", "/sign-in", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 302, response.status
    return response.getheader("Set-Cookie").split(";")[0]


def test_gunicorn_finishes_a_download_in_flight_when_stopped(app, make_campaign, make_user,
                                                             database_url):
    size = 60_000
    campaign_id = make_campaign("Large", [(f"+6581{n:06d}", "delivered", None)
                                          for n in range(size)])
    make_user("viewer@example.gov", "viewer", "Ops")
    port = free_port()
    environment = {**os.environ, "PORTAL_DATABASE_URL": settings(database_url)[
        "PORTAL_DATABASE_URL"], "PORTAL_BIND": f"127.0.0.1:{port}", "PORTAL_WORKERS": "1"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "python:portal.serving"],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port)
        cookie = sign_in(port, "viewer@example.gov")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", f"/campaigns/{campaign_id}/report.csv",
                           headers={"Cookie": cookie})
        response = connection.getresponse()
        assert response.status == 200
        received = response.read1(1024)
        server.send_signal(signal.SIGTERM)  # as a deployment or a scale-down would
        while chunk := response.read1(65536):
            received += chunk
        connection.close()
        assert server.wait(timeout=60) == 0
    finally:
        if server.poll() is None:
            server.kill()
    rows = list(csv.reader(io.StringIO(received.decode("utf-8-sig"))))
    assert len(rows) == size + 1
