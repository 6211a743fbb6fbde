"""Progress while people wait: a delivery report prepared in the background with a bar that
moves and says what it is doing, then downloaded; and the upload form's progress."""

import csv
import io
import json
import os
import time
from datetime import timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from portal import background
from portal import hookimpl
from portal import reports
from portal.db import db
from portal.db import utcnow
from portal.exporters import Exporter
from portal.models import AuditEvent
from portal.models import Job
from tests.conftest import HTMX
from tests.conftest import count
from tests.conftest import page
from tests.conftest import text
from tests.test_security import inline_code

MIX = [
    ("+6581234567", "delivered", None),
    ("+6591234567", "sent", None),
    ("+6581110000", "undelivered", "30003"),
    ("=HYPERLINK(\"http://x\")", None, None),
    ("+6581110002", "failed", "21610"),
    ("+6581110003", "queued", None),
    ("+6581110004", "delivered", None),
]
ERRORS_IN_MIX = 3


@pytest.fixture
def folder(app, tmp_path):
    """The instance folder of this test's app; prepared reports go to its reports/."""
    app.instance_path = str(tmp_path)
    return tmp_path / "reports"


@pytest.fixture
def inline(app, folder):
    app.config["PORTAL_RUN_IN_BACKGROUND"] = False


@pytest.fixture
def campaign_id(make_campaign):
    return make_campaign("Road closure", MIX)


def report_rows(extension, data):
    """Every row of a report file, its header included, as a real reader reads it."""
    if extension == "csv":
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [list(row) for sheet in workbook.worksheets
            for row in sheet.iter_rows(values_only=True)]


def prepare_url(campaign_id, extension="csv", only_errors=False):
    query = "?only=errors" if only_errors else ""
    return f"/campaigns/{campaign_id}/report.{extension}/prepare{query}"


def bar(response):
    """(value, max, text, polls again) of the progress partial a response holds."""
    job = page(response).select_one(".report-job")
    progress = job.find("progress")
    return (int(progress["value"]), int(progress["max"]), text(job.find("p")),
            job.has_attr("hx-get"))


def job_id_of(file_url):
    return int(file_url.split("/")[-2])


def finished_ago(app, job_id, seconds):
    """Make the job look finished ``seconds`` ago."""
    with app.app_context():
        db.session.execute(sa.update(Job).where(Job.id == job_id).values(
            finished_at=utcnow() - timedelta(seconds=seconds)))
        db.session.commit()


def download_events(app):
    """(actor, details) of every report.download in the audit log, oldest first."""
    with app.app_context():
        return [(event.actor, json.loads(event.details)) for event in db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == "report.download")
            .order_by(AuditEvent.id)).scalars()]


def wait_until_ready(client, progress_url, seconds=20):
    """Poll the progress partial as the page does, until it sends the browser to the file."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = client.get(progress_url, headers=HTMX)
        assert response.status_code == 200
        if "HX-Redirect" in response.headers:
            return response
        time.sleep(0.05)
    raise AssertionError(f"the report of {progress_url} was not ready after {seconds}s")


# The campaign page

def test_each_report_link_prepares_with_progress_and_still_downloads_without_script(
        client, campaign_id):
    document = page(client.get(f"/campaigns/{campaign_id}"))
    links = document.select(".downloads a.button")
    assert {(link["href"], link["hx-post"]) for link in links} >= {
        (f"/campaigns/{campaign_id}/report.csv", prepare_url(campaign_id, "csv")),
        (f"/campaigns/{campaign_id}/report.csv?only=errors",
         prepare_url(campaign_id, "csv", True)),
        (f"/campaigns/{campaign_id}/report.xlsx", prepare_url(campaign_id, "xlsx")),
    }
    assert all(link["hx-target"] == "#report-progress" for link in links)
    # A double click sends one request: htmx disables the link while it is answered.
    assert all(link["hx-disabled-elt"] == "this" for link in links)
    area = document.select_one(".downloads #report-progress")
    assert area["aria-live"] == "polite"
    direct = client.get(links[0]["href"])
    assert direct.headers["Content-Disposition"].startswith("attachment")
    direct.get_data()


# Preparing, then downloading

@pytest.mark.parametrize("extension", ["csv", "xlsx"])
@pytest.mark.parametrize("only_errors", [False, True])
def test_a_prepared_report_holds_the_rows_of_the_direct_download(client, campaign_id, inline,
                                                                 extension, only_errors):
    query = "?only=errors" if only_errors else ""
    direct = client.get(f"/campaigns/{campaign_id}/report.{extension}{query}")
    direct_rows = report_rows(extension, direct.get_data())
    assert len(direct_rows) == 1 + (ERRORS_IN_MIX if only_errors else len(MIX))

    started = client.post(prepare_url(campaign_id, extension, only_errors), headers=HTMX)
    assert started.status_code == 200
    file_url = started.headers["HX-Redirect"]
    prepared = client.get(file_url)
    assert prepared.status_code == 200
    assert prepared.headers["Content-Disposition"] == direct.headers["Content-Disposition"]
    assert prepared.headers["Content-Type"] == direct.headers["Content-Type"]
    assert report_rows(extension, prepared.get_data()) == direct_rows
    if extension == "csv":
        assert prepared.get_data() == direct.get_data()
    prepared.close()


def test_the_bar_moves_and_says_what_it_is_doing(app, client, client_as, campaign_id, inline,
                                                 monkeypatch):
    """A colleague watching the progress while the job writes sees it move row by row."""
    monkeypatch.setattr(reports, "PROGRESS_ROWS", 2)
    watcher = client_as("viewer", "Ops")
    seen = []
    update_job = reports.update_job

    def update_and_look(engine, job_id, **values):
        update_job(engine, job_id, **values)
        if "state" not in values:
            url = f"/campaigns/{campaign_id}/report-jobs/{job_id}"
            seen.append(bar(watcher.get(url, headers=HTMX)))

    monkeypatch.setattr(reports, "update_job", update_and_look)
    finished = client.post(prepare_url(campaign_id), headers=HTMX)
    assert seen == [(done, 7, f"Writing the CSV report: row {done} of 7…", True)
                    for done in (2, 4, 6, 7)]
    value, most, said, polls = bar(finished)
    assert (value, most, polls) == (7, 7, False)
    assert said.startswith("The CSV report is ready: 7 rows.")
    assert page(finished).select_one(".report-job a[download]")["href"] == \
        finished.headers["HX-Redirect"]


def test_a_report_prepared_in_the_background_is_polled_until_it_downloads(client, campaign_id,
                                                                          folder):
    started = client.post(prepare_url(campaign_id, "xlsx"), headers=HTMX)
    assert started.status_code == 200
    job = page(started).select_one(".report-job")
    progress_url = job.get("hx-get")
    if progress_url is None:  # the thread was quicker than this request
        assert "HX-Redirect" in started.headers
        progress_url = started.headers["HX-Redirect"].removesuffix("/file")
    else:
        assert job["hx-trigger"] == "load delay:1s"
        assert job.find("progress")["max"] == str(len(MIX))
    ready = wait_until_ready(client, progress_url)
    download = client.get(ready.headers["HX-Redirect"])
    assert download.status_code == 200
    assert len(report_rows("xlsx", download.get_data())) == 1 + len(MIX)
    download.close()


def test_without_htmx_preparing_leads_to_a_page_with_the_progress(client, campaign_id, inline):
    started = client.post(prepare_url(campaign_id))
    assert started.status_code == 303
    shown = client.get(started.location)
    assert shown.status_code == 200 and "HX-Redirect" not in shown.headers
    document = page(shown)
    assert text(document.find("h1")) == "Delivery report of Road closure"
    link = document.select_one("#report-progress .report-job a[download]")
    download = client.get(link["href"])
    assert download.headers["Content-Disposition"].startswith("attachment")
    download.close()


def test_a_failed_report_says_what_went_wrong_and_what_to_do(app, client, campaign_id,
                                                             inline, folder):
    class Broken:
        @hookimpl
        def portal_exporters(self):
            def write(columns, rows, stream, total_rows):
                stream.write(b"started\n")
                next(iter(rows))
                raise OSError("No space left on device")

            return [Exporter("broken", "Broken", "text/plain", "broken", write)]

    manager = app.extensions["portal.plugins"]
    assert manager.register(Broken(), "broken")
    try:
        answer = client.post(prepare_url(campaign_id, "broken"), headers=HTMX)
    finally:
        manager.unregister("broken")
    assert "HX-Redirect" not in answer.headers
    job = page(answer).select_one(".report-job")
    assert job["data-job-state"] == "failed" and not job.has_attr("hx-get")
    alert = text(job.select_one("[role=alert]"))
    assert alert.startswith("The report could not be prepared. The Broken report stopped "
                            "(OSError).")
    assert "Prepare it again; if it fails again, tell the portal's operators" in alert
    assert os.listdir(folder) == []  # no half-written file is left or offered


def test_a_removed_report_asks_to_prepare_it_again(client, campaign_id, inline, folder):
    started = client.post(prepare_url(campaign_id), headers=HTMX)
    file_url = started.headers["HX-Redirect"]
    for path in folder.iterdir():
        path.unlink()
    again = client.get(file_url.removesuffix("/file"), headers=HTMX)
    assert "HX-Redirect" not in again.headers
    assert "Prepare it again" in text(page(again).select_one(".report-job"))
    missing = client.get(file_url)
    assert missing.status_code == 404
    assert "is no longer kept: prepared reports are removed after an hour" in text(page(missing))


def test_a_report_finished_more_than_an_hour_ago_is_removed_and_not_served(
        app, client, campaign_id, inline, folder):
    file_url = client.post(prepare_url(campaign_id), headers=HTMX).headers["HX-Redirect"]
    job_id = job_id_of(file_url)
    finished_ago(app, job_id, reports.KEEP_SECONDS - 60)
    still = client.get(file_url)
    assert still.status_code == 200
    still.close()

    finished_ago(app, job_id, reports.KEEP_SECONDS + 1)
    missing = client.get(file_url)
    assert missing.status_code == 404
    assert f"Prepared report {job_id} is no longer kept" in text(page(missing))
    assert os.listdir(folder) == []  # removed when asked for, not left for the next sweep
    shown = client.get(file_url.removesuffix("/file"), headers=HTMX)
    assert "HX-Redirect" not in shown.headers
    assert text(page(shown).select_one(".report-job .warning")).startswith(
        "This prepared report is no longer kept")


def test_preparing_removes_expired_and_stray_files_and_keeps_live_ones(app, client,
                                                                      campaign_id, inline,
                                                                      folder):
    expiring = job_id_of(client.post(prepare_url(campaign_id), headers=HTMX)
                         .headers["HX-Redirect"])
    recent = job_id_of(client.post(prepare_url(campaign_id, "xlsx"), headers=HTMX)
                       .headers["HX-Redirect"])
    finished_ago(app, expiring, reports.KEEP_SECONDS + 1)
    [expired_file] = [name for name in os.listdir(folder) if name.startswith(f"{expiring}-")]
    [recent_file] = [name for name in os.listdir(folder) if name.startswith(f"{recent}-")]
    stray, stale = folder / "900.csv", folder / "901-errors.xlsx.part"
    for path in (stray, stale):
        path.write_bytes(b"rows")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(stale, (two_hours_ago, two_hours_ago))

    client.post(prepare_url(campaign_id, "csv", True), headers=HTMX)
    left = os.listdir(folder)
    assert recent_file in left and len(left) == 2  # the recent one and the new one
    assert expired_file not in left and {stray.name, stale.name}.isdisjoint(left)


def test_the_progress_pages_hold_no_inline_code(client, campaign_id, inline):
    started = client.post(prepare_url(campaign_id), headers=HTMX)
    progress_url = started.headers["HX-Redirect"].removesuffix("/file")
    for response in (client.get(f"/campaigns/{campaign_id}"), started,
                     client.get(progress_url), client.get("/campaigns/new")):
        assert inline_code(page(response)) == []


def test_a_file_is_named_by_its_job_campaign_and_start(app, client, campaign_id, inline,
                                                      folder):
    file_url = client.post(prepare_url(campaign_id, "xlsx", True),
                           headers=HTMX).headers["HX-Redirect"]
    job_id = job_id_of(file_url)
    with app.app_context():
        started = int(db.session.get(Job, job_id).started_at.timestamp())
    assert os.listdir(folder) == [f"{job_id}-{campaign_id}-{started}-errors.xlsx"]


@pytest.mark.parametrize("written_by", ["another campaign", "another start"])
def test_a_file_under_the_same_job_id_written_for_another_job_is_never_offered(
        app, client, campaign_id, inline, folder, written_by):
    """After a database restore, ids are given again: a file that a lost job wrote under the
    same id, for another campaign or at another time, is not this job's."""
    file_url = client.post(prepare_url(campaign_id), headers=HTMX).headers["HX-Redirect"]
    job_id = job_id_of(file_url)
    [path] = folder.iterdir()
    _, campaign, started = path.stem.split("-")
    other = (f"{job_id}-{int(campaign) + 1}-{started}.csv" if written_by == "another campaign"
             else f"{job_id}-{campaign}-{int(started) - 60}.csv")
    path.rename(folder / other)
    assert client.get(file_url).status_code == 404
    shown = client.get(file_url.removesuffix("/file"), headers=HTMX)
    assert "HX-Redirect" not in shown.headers
    assert "no longer kept" in text(page(shown).select_one(".report-job"))


# One report job of a campaign at a time

@pytest.fixture
def not_run(monkeypatch):
    """Jobs are started but never run, so they stay running; returns the ids launched."""
    launched = []
    monkeypatch.setattr("portal.views.reports.launch",
                        lambda job_id, *args: launched.append(job_id))
    return launched


def test_while_a_report_is_prepared_another_request_shows_its_progress(app, client, client_as,
                                                                      campaign_id, folder,
                                                                      not_run):
    first = client.post(prepare_url(campaign_id, "csv", True), headers=HTMX)
    progress_url = page(first).select_one(".report-job")["hx-get"]
    assert page(first).select_one(".report-note") is None
    for asker in (client, client_as("viewer", "Ops")):  # a double click, or a colleague
        again = asker.post(prepare_url(campaign_id, "xlsx"), headers=HTMX)
        assert again.status_code == 200
        job = page(again).select_one(".report-job")
        assert job["hx-get"] == progress_url
        assert text(job.find("p")) == "Getting ready to write the CSV report (errors only): " \
                                      "3 rows…"
        assert text(page(again).select_one(".report-note")).startswith(
            "A report of this campaign is being prepared already")
    assert count(app, Job) == 1 and len(not_run) == 1

    plain = client.post(prepare_url(campaign_id))
    assert plain.status_code == 303 and plain.location == progress_url
    shown = page(client.get(plain.location))
    assert text(shown.select_one(".flash")).startswith("A report of this campaign is being "
                                                       "prepared already")
    assert count(app, Job) == 1


def test_a_finished_or_dead_report_job_does_not_hold_back_the_next(app, client, campaign_id,
                                                                  folder, not_run):
    def update(job_id, **values):
        with app.app_context():
            reports.update_job(db.engine, job_id, **values)

    client.post(prepare_url(campaign_id), headers=HTMX)
    # Still running, but not marked as alive for a minute: its process died.
    update(not_run[0], heartbeat_at=utcnow() - timedelta(seconds=background.STALE_SECONDS + 1))
    client.post(prepare_url(campaign_id), headers=HTMX)
    update(not_run[1], state="done", finished_at=utcnow())
    client.post(prepare_url(campaign_id), headers=HTMX)
    assert len(not_run) == 3 and count(app, Job) == 3

    dead = page(client.get(f"/campaigns/{campaign_id}/report-jobs/{not_run[0]}", headers=HTMX))
    assert dead.select_one(".report-job")["data-job-state"] == "failed"
    assert text(dead.select_one("[role=alert]")) == (
        "The report could not be prepared. The portal process writing it ended (a restart or "
        "a crash) before it finished. Prepare it again from the campaign's page.")


def test_a_dead_report_job_says_it_stopped_and_is_no_longer_polled(app, client, campaign_id,
                                                                  folder, not_run):
    client.post(prepare_url(campaign_id), headers=HTMX)
    progress_url = f"/campaigns/{campaign_id}/report-jobs/{not_run[0]}"
    assert page(client.get(progress_url, headers=HTMX)).select_one(".report-job")["hx-get"]
    with app.app_context():
        reports.update_job(db.engine, not_run[0], heartbeat_at=utcnow() - timedelta(
            seconds=background.STALE_SECONDS + 1))
    shown = page(client.get(progress_url, headers=HTMX)).select_one(".report-job")
    assert not shown.has_attr("hx-get") and not shown.has_attr("hx-trigger")
    assert "stopped before it was finished" in text(shown.select_one("[role=alert]"))


# Who may prepare and download, and what is recorded

def test_preparing_and_each_download_are_audited_for_whoever_does_them(app, client_as,
                                                                       campaign_id, inline):
    viewer = client_as("viewer", "Ops")
    started = viewer.post(prepare_url(campaign_id, "csv", True), headers=HTMX)
    assert started.status_code == 200
    with app.app_context():
        [prepared] = db.session.execute(sa.select(AuditEvent).where(
            AuditEvent.action == "report.prepare")).scalars().all()
        assert prepared.actor == "viewer.ops@example.gov"
        assert prepared.campaign_id == campaign_id and prepared.address == "127.0.0.1"
        assert json.loads(prepared.details) == {"format": "csv", "only_errors": True,
                                                "rows": ERRORS_IN_MIX}
    assert download_events(app) == []  # written to a file, not yet downloaded by anyone

    file_url = started.headers["HX-Redirect"]
    details = {"format": "csv", "only_errors": True, "rows": ERRORS_IN_MIX}
    for number, downloader in enumerate((viewer, client_as("manager", "Ops")), start=1):
        prepared_file = downloader.get(file_url)
        assert len(report_rows("csv", prepared_file.get_data())) == 1 + ERRORS_IN_MIX
        prepared_file.close()
        assert len(download_events(app)) == number
    assert download_events(app) == [("viewer.ops@example.gov", details),
                                    ("manager.ops@example.gov", details)]
    with app.app_context():
        users = db.session.execute(sa.select(AuditEvent.user_id).where(
            AuditEvent.action == "report.download").order_by(AuditEvent.id)).scalars().all()
        assert len(set(users)) == 2 and None not in users


def test_another_teams_report_job_reads_as_missing(app, client_as, make_campaign, inline):
    parks_campaign = make_campaign("Parks secret survey", MIX, team="Parks")
    parks = client_as("viewer", "Parks")
    file_url = parks.post(prepare_url(parks_campaign), headers=HTMX).headers["HX-Redirect"]
    job_url = file_url.removesuffix("/file")
    own = parks.get(file_url)
    assert own.status_code == 200
    own.close()

    ops = client_as("viewer", "Ops")
    jobs_before = count(app, Job)
    for headers in ({}, HTMX):
        assert ops.post(prepare_url(parks_campaign), headers=headers).status_code == 404
        for url in (job_url, file_url):
            hidden = ops.get(url, headers=headers)
            assert hidden.status_code == 404
            assert "Parks secret survey" not in hidden.get_data(as_text=True)
    assert count(app, Job) == jobs_before

    # Under a campaign the viewer may see, another campaign's job id names nothing either.
    own_campaign = make_campaign("Ops campaign", MIX)
    job_id = job_url.rsplit("/", 1)[1]
    for suffix in ("", "/file"):
        assert ops.get(f"/campaigns/{own_campaign}/report-jobs/{job_id}{suffix}").status_code \
            == 404


def test_a_sync_job_is_not_a_report_job(app, client, campaign_id):
    with app.app_context():
        job = Job(kind="sync", campaign_id=campaign_id, state="done", message="Finished")
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    assert client.get(f"/campaigns/{campaign_id}/report-jobs/{job_id}").status_code == 404
    assert client.get(f"/campaigns/{campaign_id}/report-jobs/{job_id}/file").status_code == 404


def test_preparing_needs_the_csrf_token_htmx_sends(app, client, campaign_id, inline):
    app.config["WTF_CSRF_ENABLED"] = True
    campaign_page = page(client.get(f"/campaigns/{campaign_id}"))
    refused = client.post(prepare_url(campaign_id), headers=HTMX)
    assert refused.status_code == 400
    assert count(app, Job) == 0
    token = json.loads(campaign_page.body["hx-headers"])["X-CSRFToken"]
    accepted = client.post(prepare_url(campaign_id), headers={**HTMX, "X-CSRFToken": token})
    assert accepted.status_code == 200 and "HX-Redirect" in accepted.headers


# The upload form

def test_the_upload_page_has_a_hidden_progress_bar_and_loads_the_portals_script(client):
    document = page(client.get("/campaigns/new"))
    box = document.select_one("form#upload-form + #upload-progress")
    assert box.has_attr("hidden")
    assert box.find("progress") is not None
    assert box.select_one(".progress-text")["aria-live"] == "polite"
    scripts = [tag["src"] for tag in document.find_all("script")]
    assert scripts == ["/static/vendor/htmx.min.js", "/static/portal.js"]
    assert all(tag.has_attr("defer") for tag in document.find_all("script"))
    # What the script does with them is watched in a browser: tests/e2e/test_journeys.py.
    script = client.get("/static/portal.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    script.close()
