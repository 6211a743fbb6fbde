"""The campaign page: counts and shares, provider statuses, the error table, the stuck-queue
warning, and polling that slows down and stops."""

import re
import time
from datetime import timedelta

import pytest

from portal import stats
from portal.db import utcnow
from portal.views import campaigns
from tests.conftest import HTMX
from tests.conftest import page
from tests.conftest import text

MIX = [("+6581234567", "delivered", None)] * 5 + [
    ("+6591234567", "sent", None),
    ("+6581110000", "undelivered", "30003"),
    ("+6581110001", "undelivered", "30003"),
    ("+6581110002", "failed", "21610"),
    ("+6581110003", "failed", "39999"),
    ("+65 1234", None, None),
    ("+6581110004", "queued", None),
    ("+6581110005", "sending", None),
]


def counts(document):
    return {tile: text(document.select_one(f"#count-{tile}"))
            for tile in ("total", "sent", "error", "queued", "sending")}


def test_counts_and_shares(client, make_campaign):
    campaign_id = make_campaign("Clinic reminders", MIX)
    document = page(client.get(f"/campaigns/{campaign_id}"))
    assert text(document.find("h1")) == "Clinic reminders"
    assert counts(document) == {"total": "13", "sent": "6", "error": "5", "queued": "1",
                                "sending": "1"}
    assert text(document.select_one(".tile.status-sent .share")) == "46.2%"
    assert document.select_one("svg.bar")["aria-label"] == \
        "SENT 6, ERROR 5, QUEUED 1, SENDING 1 of 13"
    assert "54.5%" in text(document.select_one(".rate"))  # 6 of 11 final


def test_the_bar_is_split_in_proportion_and_its_parts_differ_by_pattern(client, make_campaign):
    campaign_id = make_campaign("Clinic reminders", MIX)
    document = page(client.get(f"/campaigns/{campaign_id}"))
    parts = document.select_one("svg.bar").select("rect")
    widths = {rect["class"][0]: float(rect["width"].rstrip("%")) for rect in parts}
    assert widths == pytest.approx({"part-sent": 100 * 6 / 13, "part-error": 100 * 5 / 13,
                                    "part-queued": 100 / 13, "part-sending": 100 / 13}, abs=1e-3)
    assert float(parts[1]["x"].rstrip("%")) == pytest.approx(100 * 6 / 13, abs=1e-3)
    # Not colour alone: the stylesheet fills ERROR, QUEUED and SENDING with these patterns.
    patterns = {pattern["id"] for pattern in document.select("svg.patterns pattern")}
    assert patterns == {"pattern-error", "pattern-queued", "pattern-sending"}
    response = client.get("/static/portal.css")
    stylesheet = response.get_data(as_text=True)
    response.close()
    for status in ("error", "queued", "sending"):
        assert re.search(rf"\.part-{status} {{ fill: url\(#pattern-{status}\)", stylesheet)


def test_provider_statuses_with_meaning_and_action(client, make_campaign):
    campaign_id = make_campaign("Clinic reminders", MIX)
    document = page(client.get(f"/campaigns/{campaign_id}"))
    rows = {text(row("td")[1]): [text(cell) for cell in row("td")]
            for row in document.select("table.breakdown tr.provider-row")}
    assert set(rows) == {"delivered", "sent", "undelivered", "failed", "queued", "sending"}
    assert rows["delivered"][2] == "5"
    assert "delivery receipt" in rows["delivered"][4] and rows["delivered"][5] == "Nothing."
    assert rows["queued"][5].startswith("Wait")
    statuses = [text(row.find("th")) for row in document.select("table.breakdown tr.status-row")]
    assert statuses == ["SENT", "ERROR", "QUEUED", "SENDING"]


def test_error_table_groups_by_error_with_interpretation(client, make_campaign):
    campaign_id = make_campaign("Clinic reminders", MIX)
    document = page(client.get(f"/campaigns/{campaign_id}"))
    rows = {row["data-code"]: row for row in document.select("table.errors tr.error-row")}
    assert set(rows) == {"30003", "21610", "39999", "invalid-number"}
    first = [row["data-code"] for row in document.select("table.errors tr.error-row")][0]
    assert first == "30003"  # the most frequent first

    unreachable = [text(cell) for cell in rows["30003"]("td")]
    assert unreachable[0] == "Unreachable destination handset"
    assert unreachable[1] == "2"
    assert unreachable[5] == "Temporary"
    assert rows["30003"].find("a", string="Provider's page")["href"] == \
        "https://www.twilio.com/docs/api/errors/30003"

    invalid = [text(cell) for cell in rows["invalid-number"]("td")]
    assert invalid[0] == "Invalid phone number"
    assert invalid[4] == "Remove these numbers from your database."

    unknown = [text(cell) for cell in rows["39999"]("td")]
    assert unknown[0] == "Unknown error 39999" and unknown[5] == "Unknown"
    assert rows["39999"].find("a", string="Provider's page")["href"].endswith("/39999")


def test_warning_for_messages_queued_too_long(client, make_campaign):
    old = utcnow() - timedelta(hours=3)
    campaign_id = make_campaign("Stuck", [("+6581234567", "queued", None)] * 3, updated_at=old)
    make_campaign("Fresh", [("+6581234567", "queued", None)])  # must not be counted
    warning = page(client.get(f"/campaigns/{campaign_id}")).select_one(".warning")
    assert "3 messages queued for more than 2 hours" in text(warning)
    assert warning.find("a")["href"] == "mailto:help@sms.example.gov"


def test_no_warning_when_the_queue_is_recent(client, make_campaign):
    campaign_id = make_campaign("Fresh", [("+6581234567", "queued", None)])
    assert page(client.get(f"/campaigns/{campaign_id}")).select_one(".warning") is None


def poll(document):
    stats = document.select_one("#stats")
    return stats.get("hx-get"), stats.get("hx-trigger")


def test_polls_while_in_flight_and_slows_while_nothing_changes(client, make_campaign):
    campaign_id = make_campaign("Going out", [("+6581234567", "sending", None)])
    url, trigger = poll(page(client.get(f"/campaigns/{campaign_id}")))
    assert trigger == "load delay:2s"
    assert url.startswith(f"/campaigns/{campaign_id}/stats?seen=")

    again = client.get(url, headers=HTMX)
    assert "<html" not in again.get_data(as_text=True)
    url, trigger = poll(page(again))
    assert trigger == "load delay:4s"  # nothing changed: slower
    url, trigger = poll(page(client.get(url, headers=HTMX)))
    assert trigger == "load delay:8s"
    fingerprint_changed = url.replace("seen=", "seen=x")
    _, trigger = poll(page(client.get(fingerprint_changed, headers=HTMX)))
    assert trigger == "load delay:2s"  # something changed: fast again


def test_polling_slows_when_the_server_is_slow(client, make_campaign, monkeypatch):
    campaign_id = make_campaign("Going out", [("+6581234567", "sending", None)])
    url, _ = poll(page(client.get(f"/campaigns/{campaign_id}")))
    counted = stats.campaign_stats

    def slowly(*args):
        time.sleep(0.03)
        return counted(*args)

    monkeypatch.setattr(campaigns, "SLOW_SERVER_SECONDS", 0.02)
    monkeypatch.setattr(stats, "campaign_stats", slowly)
    # Something changed, which would poll fast again, but this answer took too long.
    _, trigger = poll(page(client.get(url.replace("seen=", "seen=x"), headers=HTMX)))
    assert trigger == "load delay:4s"


def test_polling_never_exceeds_the_longest_interval(client, make_campaign):
    campaign_id = make_campaign("Going out", [("+6581234567", "sending", None)])
    url, _ = poll(page(client.get(f"/campaigns/{campaign_id}")))
    _, trigger = poll(page(client.get(url.replace("every=2", "every=500"), headers=HTMX)))
    assert trigger == "load delay:30s"


def test_no_polling_when_nothing_is_in_flight(client, make_campaign):
    campaign_id = make_campaign("Done", [("+6581234567", "delivered", None)])
    assert poll(page(client.get(f"/campaigns/{campaign_id}"))) == (None, None)


def test_stats_url_opened_directly_is_the_whole_page(client, make_campaign):
    campaign_id = make_campaign("Done", [("+6581234567", "delivered", None)])
    document = page(client.get(f"/campaigns/{campaign_id}/stats"))
    assert document.find("html") and text(document.find("h1")) == "Done"


def test_download_buttons_for_every_exporter(client, make_campaign):
    campaign_id = make_campaign("Done", [("+6581234567", "delivered", None)])
    links = [a["href"] for a in page(client.get(f"/campaigns/{campaign_id}"))
             .select(".downloads a.button")]
    for extension in ("csv", "xlsx", "jsonl"):
        assert f"/campaigns/{campaign_id}/report.{extension}" in links
        assert f"/campaigns/{campaign_id}/report.{extension}?only=errors" in links


def test_campaign_without_messages(client, make_campaign):
    campaign_id = make_campaign("Empty", [])
    document = page(client.get(f"/campaigns/{campaign_id}"))
    assert "no messages yet" in text(document.select_one("#stats"))
    assert poll(document) == (None, None)


@pytest.mark.parametrize("path", ["/campaigns/999", "/campaigns/999/stats",
                                  "/campaigns/999/report.csv"])
def test_unknown_campaign_is_a_404_in_the_portal_style(client, path):
    response = client.get(path)
    assert response.status_code == 404
    document = page(response)
    assert "There is no campaign 999" in text(document)
    assert document.select_one("header.top a.brand")
