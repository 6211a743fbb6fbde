"""What people do in the portal, in a real browser: sign in, find a campaign, watch one
move, download its report, ask the provider for missing statuses, and see only what their
role allows."""

import csv
import re
import subprocess
import time
from datetime import datetime
from datetime import timezone

import openpyxl
import pytest
from playwright.sync_api import expect

from portal.ingestion import sync
from tests.e2e.conftest import ADMIN
from tests.e2e.conftest import BIN
from tests.e2e.conftest import MANAGER
from tests.e2e.conftest import ROOT
from tests.e2e.conftest import VIEWER
from tests.e2e.conftest import message_sid

MARK = "window.__portalPageLoad"


def mark_page_load(page):
    """Tag the loaded document; the tag survives HTMX swaps and is gone after a reload."""
    page.evaluate(f"{MARK} = 'first load'")


def same_page_load(page):
    return page.evaluate(f"{MARK} === 'first load'")


def table_names(page):
    return page.locator("#campaign-table tbody tr td:first-child a").all_inner_texts()


@pytest.fixture(scope="module")
def notices(portal):
    """Thirty small campaigns named 'Weekly notice NN', so the dashboard has pages."""
    for number in range(1, 31):
        portal.new_campaign(f"Weekly notice {number:02d}", [
            {"recipient": f"+6581{number:02d}{index:04d}",
             "provider_message_id": message_sid(10_000 * number + index),
             "status": "delivered"} for index in range(3)],
            sent_at=f"2026-11-{number:02d}T08:00:00+00:00")


def test_signing_in_takes_a_person_to_their_campaigns(new_page):
    page = new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("email or password is not right")
    page.get_by_label("Password").fill("demo-password-2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")
    expect(page.locator("header")).to_contain_text(ADMIN)
    expect(page).to_have_title(re.compile(r"Campaigns · "))


def test_the_dashboard_searches_pages_and_sorts_in_place_and_back_restores_it(
        new_page, notices):
    page = new_page(ADMIN)
    mark_page_load(page)

    page.get_by_label("Search by name").fill("Weekly notice")
    expect(page.locator("#matching")).to_have_text("30 campaigns")
    expect(page).to_have_url(re.compile(r"[?&]q=Weekly(\+|%20)notice"))
    assert all(name.startswith("Weekly notice") for name in table_names(page))
    assert len(table_names(page)) == 25

    page.get_by_role("link", name="Next →").click()
    expect(page.locator(".pager")).to_contain_text("Page 2 of 2")
    # Newest first: page 2 holds the five oldest.
    assert table_names(page) == [f"Weekly notice {n:02d}" for n in range(5, 0, -1)]

    page.get_by_role("link", name="Name").click()
    expect(page.locator(".pager")).to_contain_text("Page 1 of 2")
    names = table_names(page)
    assert names == sorted(names) and names[0] == "Weekly notice 01"
    assert same_page_load(page), "HTMX should have swapped the table, not reloaded the page"

    page.go_back()
    expect(page.locator(".pager")).to_contain_text("Page 2 of 2")
    assert table_names(page) == [f"Weekly notice {n:02d}" for n in range(5, 0, -1)]
    page.go_back()
    expect(page.locator(".pager")).to_contain_text("Page 1 of 2")
    expect(page.get_by_label("Search by name")).to_have_value("Weekly notice")
    assert same_page_load(page), "going back should restore the page in place"


def count(page, status):
    return int(page.locator(f"#count-{status}").inner_text().replace(",", ""))


def test_a_campaign_in_flight_moves_before_the_eyes_and_stops_polling_when_done(
        new_page, portal):
    size = 40
    campaign_id = portal.new_campaign("Storm warning, live", [
        {"recipient": f"+65820{index:05d}", "provider_message_id": message_sid(900_000 + index)}
        for index in range(size)],
        sent_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    page = new_page(ADMIN)
    page.goto(f"/campaigns/{campaign_id}")
    expect(page).to_have_title(re.compile(r"^Storm warning, live · "))
    assert count(page, "queued") == size
    expect(page.locator("#stats .live")).to_be_visible()
    mark_page_load(page)

    simulator = subprocess.Popen(
        [str(BIN / "flask"), "simulate", "--url", f"{portal.url}/callbacks/twilio",
         "--campaign", str(campaign_id), "--per-second", "8", "--seed", "6"],
        env=portal.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        seen = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and page.locator("#stats .live").count():
            seen.add((count(page, "sent"), count(page, "error"), count(page, "queued")))
            page.wait_for_timeout(250)
        _, problems = simulator.communicate(timeout=60)
        assert simulator.returncode == 0, problems
    finally:
        simulator.kill()
        simulator.communicate()

    expect(page.locator("#stats .live")).to_have_count(0)
    midway = [state for state in seen if 0 < state[0] + state[1] < size]
    assert midway, f"the counters should move while the page is watched: {sorted(seen)}"
    assert count(page, "queued") == count(page, "sending") == 0
    assert count(page, "sent") + count(page, "error") == size
    assert same_page_load(page), "the counters should change without a reload"
    # The last poll brought the chart of final statuses up to date.
    expect(page.locator("#delivery-chart figure.delivery")).to_contain_text(
        f"{size} of {size} recipients")

    assert not page.evaluate("document.querySelector('#stats').hasAttribute('hx-trigger')")
    polls = []
    page.on("request", lambda request: polls.append(request.url)
            if f"/campaigns/{campaign_id}/" in request.url else None)
    page.wait_for_timeout(2_500)
    assert polls == [], "a finished campaign should not be polled"


def read_download(download, folder):
    path = folder / download.suggested_filename
    download.save_as(path)
    return path


def sheet_rows(path):
    """The rows of the workbook's sheet, read by openpyxl."""
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return list(workbook.active.iter_rows(values_only=True))
    finally:
        workbook.close()


def open_campaign(page, name):
    page.goto("/")
    page.get_by_label("Search by name").fill(name)
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def test_reports_download_through_the_browser_and_open_in_their_readers(new_page, tmp_path):
    page = new_page(MANAGER)
    open_campaign(page, "Clinic appointment confirmations")
    total = count(page, "total")

    with page.expect_download(timeout=60_000) as csv_download:
        page.get_by_role("link", name="CSV: all recipients").click()
    path = read_download(csv_download.value, tmp_path)
    assert path.suffix == ".csv"
    with open(path, newline="", encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == total
    assert {row["Status"] for row in rows} <= {"SENT", "ERROR", "QUEUED", "SENDING"}

    with page.expect_download(timeout=60_000) as xlsx_download:
        page.get_by_role("link", name="Excel (XLSX): errors only").click()
    path = read_download(xlsx_download.value, tmp_path)
    assert path.suffix == ".xlsx"
    header, *lines = sheet_rows(path)
    status = header.index("Status")
    assert len(lines) == count(page, "error")
    assert {line[status] for line in lines} == {"ERROR"}


def test_an_admin_asks_twilio_for_missing_statuses_and_watches_the_progress(
        new_page, twilio, monkeypatch):
    page = new_page(ADMIN)
    open_campaign(page, "Road works on Orchard Road")
    asked_before = len(twilio.asked)
    in_flight = count(page, "queued") + count(page, "sending")
    assert in_flight > 2 * sync.CHUNK  # asked about in three chunks or more
    # Each chunk of answers takes some 3 s, so the page's polls (every second) see each.
    monkeypatch.setattr(twilio, "delay", 0.03)
    page.get_by_role("button", name=re.compile("Ask Twilio for missing statuses")).click()

    progress = page.locator("#sync-progress")
    bar = progress.locator("progress")
    expect(bar).to_be_visible()
    values = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and progress.get_attribute("data-job-state") == "running":
        values.add(int(bar.get_attribute("value")))
        page.wait_for_timeout(100)
    expect(progress).to_have_attribute("data-job-state", "done")
    summary = progress.get_by_role("status")
    expect(summary).to_contain_text(re.compile(r"\d+ got a new status"))
    assert len(values - {0}) >= 2, f"the progress bar should move: {sorted(values)}"
    updated = int(re.search(r"([\d,]+) got a new status", summary.inner_text())[1].replace(",", ""))
    assert updated == len(twilio.asked) - asked_before > 0
    page.reload()
    # The stand-in answers "delivered": every message asked about left the queue.
    assert count(page, "queued") + count(page, "sending") == in_flight - updated


def test_a_viewer_reads_and_downloads_but_sees_no_manager_actions(new_page):
    page = new_page(VIEWER)
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")
    expect(page.get_by_role("link", name="Import a campaign")).to_have_count(0)
    expect(page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="API tokens")).to_have_count(0)

    open_campaign(page, "Clinic appointment confirmations")
    expect(page.get_by_role("link", name="CSV: all recipients")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("missing statuses"))).to_have_count(0)

    answer = page.goto("/campaigns/new")
    assert answer.status == 403
    expect(page.locator("main")).to_contain_text("This needs a manager")


def test_a_large_report_shows_its_progress_then_downloads(new_page, tmp_path):
    page = new_page(ADMIN)
    open_campaign(page, "National screening reminder")
    total = count(page, "total")
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("link", name="Excel (XLSX): all recipients").click()
        bar = page.locator("#report-progress progress")
        expect(bar).to_be_attached()
        assert int(bar.get_attribute("max")) == total
    expect(page.locator("#report-progress")).to_contain_text(f"{total:,} rows")
    assert len(sheet_rows(read_download(download.value, tmp_path))) == total + 1  # and header


def test_a_manager_imports_a_file_watching_it_go_and_lands_on_the_campaign(
        new_page, tmp_path):
    rows = ["Sid,To,Status,ErrorCode,SentDate"] + [
        f"{message_sid(700_000 + index)},+65830{index:05d},"
        f"{'undelivered' if index % 10 == 0 else 'delivered'},"
        f"{'30003' if index % 10 == 0 else ''},2026-12-02 08:00:00"
        for index in range(2_000)]
    upload = tmp_path / "message-log.csv"
    upload.write_text("\n".join(rows) + "\n", encoding="utf-8")

    page = new_page(MANAGER)
    page.get_by_role("link", name="Import a campaign").click()
    page.get_by_label("Campaign name").fill("Imported from the console")
    page.get_by_label("CSV file").set_input_files(upload)
    progress = page.locator("#upload-progress")
    expect(progress).to_be_hidden()
    # A slow line, so the file takes a few seconds to send and its progress can be watched.
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": upload.stat().st_size / 3})
    mark_page_load(page)
    page.get_by_role("button", name="Import").click()

    expect(progress).to_be_visible()
    expect(progress).to_contain_text(re.compile(r"Sending the file: [\d.]+ of [\d.]+ MB"))
    sent = set()
    while page.locator("#upload-bar").count() and len(sent) < 3:
        sent.add(page.evaluate("document.getElementById('upload-bar')?.value ?? null"))
        page.wait_for_timeout(100)
    assert len(sent - {None, 0}) >= 2, f"the bar should move as the file goes: {sent}"
    expect(page.get_by_role("heading", level=1)).to_have_text("Imported from the console")
    assert same_page_load(page), "the script should have sent the file, not the browser"
    expect(page.get_by_role("status")).to_contain_text("2,000")
    assert count(page, "total") == 2_000
    assert count(page, "error") == 200
    expect(page).to_have_url(re.compile(r"/campaigns/\d+$"))
