"""The dashboard: every campaign, newest first, with search, sort, filter and paging that
swap only the table under HTMX."""

from datetime import timedelta

from portal.db import utcnow
from tests.conftest import HTMX
from tests.conftest import page
from tests.conftest import text


def names(document):
    return [text(row.find("td")) for row in document.select("#campaign-table tbody tr")]


def test_lists_campaigns_newest_first_with_their_counts(client, make_campaign):
    now = utcnow()
    make_campaign("Older", [("+6581234567", "delivered", None)], sent_at=now - timedelta(days=2))
    make_campaign("Newer", [("+6581234567", "delivered", None),
                            ("+6591234567", "undelivered", "30003"),
                            ("+6581230000", "queued", None),
                            ("12", None, None)], sent_at=now - timedelta(days=1))
    document = page(client.get("/"))
    assert names(document) == ["Newer", "Older"]
    cells = [text(cell) for cell in document.select("#campaign-table tbody tr")[0]("td")]
    # name, provider, sent, state, recipients, SENT, ERROR, in flight, success rate
    assert cells[1] == "twilio"
    assert cells[3] == "In flight"
    assert cells[4:9] == ["4", "1", "2", "1", "33.3%"]
    assert "Finished" in text(document.select("#campaign-table tbody tr")[1])


def test_search_sort_and_state_filter(client, make_campaign):
    now = utcnow()
    make_campaign("Beta flood warning", [("+6581234567", "delivered", None)],
                  sent_at=now - timedelta(days=3))
    make_campaign("alpha road notice", [("+6581234567", "queued", None)],
                  sent_at=now - timedelta(days=2))
    make_campaign("Gamma flood drill", [("+6581234567", "failed", "30005")],
                  sent_at=now - timedelta(days=1))
    assert names(page(client.get("/?q=FLOOD"))) == ["Gamma flood drill", "Beta flood warning"]
    assert names(page(client.get("/?sort=name"))) == [
        "alpha road notice", "Beta flood warning", "Gamma flood drill"]
    assert names(page(client.get("/?sort=oldest")))[0] == "Beta flood warning"
    assert names(page(client.get("/?state=in_flight"))) == ["alpha road notice"]
    assert names(page(client.get("/?state=finished"))) == [
        "Gamma flood drill", "Beta flood warning"]
    # A search term with SQL wildcards is taken literally.
    assert "No campaign matches" in text(page(client.get("/?q=%25")))


def test_pages_of_25(client, make_campaign):
    now = utcnow()
    for number in range(30):
        make_campaign(f"Campaign {number:02d}", [], sent_at=now - timedelta(minutes=number))
    first = page(client.get("/"))
    assert len(names(first)) == 25
    assert names(first)[0] == "Campaign 00"
    assert "Page 1 of 2" in text(first.select_one(".pager"))
    next_link = first.select_one(".pager a[rel=next]")
    assert next_link["href"] == "/?page=2" and next_link["hx-get"] == "/?page=2"
    second = page(client.get(next_link["href"]))
    assert names(second) == [f"Campaign {number:02d}" for number in range(25, 30)]
    # A page past the end shows the last page rather than nothing.
    assert names(page(client.get("/?page=99"))) == names(second)


def test_htmx_gets_only_the_table_and_a_plain_request_the_page(client, make_campaign):
    make_campaign("Only one", [("+6581234567", "delivered", None)])
    partial = client.get("/?q=only", headers=HTMX)
    assert "<html" not in partial.get_data(as_text=True)
    assert page(partial).select_one("#campaign-table")
    assert "HX-Request" in partial.headers["Vary"]

    full = page(client.get("/?q=only"))
    assert full.find("html") and full.select_one("form.filters input#q")["value"] == "only"

    # After a history-cache miss htmx asks for the whole page again.
    restored = client.get("/?q=only", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in restored.get_data(as_text=True)


def test_controls_push_the_url_and_target_the_table(client, make_campaign):
    make_campaign("Any", [])
    document = page(client.get("/"))
    form = document.select_one("form.filters")
    assert form["hx-get"] == "/" and form["hx-target"] == "#campaign-table"
    assert form["hx-push-url"] == "true"
    table = document.select_one("#campaign-table")
    assert table["hx-push-url"] == "true" and table["hx-target"] == "#campaign-table"


def test_empty_portal_says_what_to_do(client):
    assert "No campaigns yet" in text(page(client.get("/")))
