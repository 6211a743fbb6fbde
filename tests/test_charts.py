"""The campaign page's charts as a person reads them: errors by kind, largest first, and the
messages that reached a final status over time, whose numbers are the real counts."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal import charts
from portal import counters
from portal.db import db
from portal.db import utcnow
from portal.db import write_transaction
from portal.models import Message
from tests.conftest import HTMX
from tests.conftest import count
from tests.conftest import page
from tests.conftest import text

ROOT = Path(__file__).parent.parent
NO_FINAL = "No message has reached a final status yet."

ERRORS = ([("+6581234567", "delivered", None)] * 2
          + [("+6581110000", "undelivered", "30003")] * 3          # temporary
          + [("+6581110001", "failed", "21614")] * 2               # bad number
          + [("+65 1234", None, None)] * 2                         # invalid: bad number
          + [("+6581110002", "failed", "39999")])                  # unknown


def bar_labels(document):
    return [text(label) for label in document.select("figure.errors-by-kind svg text")]


def test_errors_by_kind_sums_codes_and_puts_the_largest_first(client, make_campaign):
    campaign_id = make_campaign("Clinic reminders", ERRORS)
    document = page(client.get(f"/campaigns/{campaign_id}"))
    assert bar_labels(document) == ["Bad number: 4 (40.0%)", "Temporary: 3 (30.0%)",
                                    "Unknown: 1 (10.0%)"]
    widths = [float(bar["width"]) for bar in document.select("figure.errors-by-kind rect")]
    assert widths == [400.0, 300.0, 100.0]  # bars in proportion to the counts

    svg = document.select_one("figure.errors-by-kind svg")
    assert svg["role"] == "img"
    assert svg["aria-label"] == ("Errors by kind: Bad number 4 (40.0% of all messages); "
                                 "Temporary 3 (30.0% of all messages); "
                                 "Unknown 1 (10.0% of all messages)")
    rows = [[text(cell) for cell in row(["th", "td"])]
            for row in document.select("table.errors-by-kind-data tbody tr")]
    assert rows == [["Bad number", "4", "40.0%"], ["Temporary", "3", "30.0%"],
                    ["Unknown", "1", "10.0%"]]


def test_errors_by_kind_sits_just_above_the_errors_table(client, make_campaign):
    campaign_id = make_campaign("Clinic reminders", ERRORS)
    document = page(client.get(f"/campaigns/{campaign_id}"))
    figure = document.select_one("figure.errors-by-kind")
    assert figure.find_previous_sibling("h3")["id"] == "errors"
    assert figure.find_next_sibling("div").find("table")["class"] == ["errors"]


def test_no_errors_no_errors_chart(client, make_campaign):
    campaign_id = make_campaign("Clean", [("+6581234567", "delivered", None)])
    assert page(client.get(f"/campaigns/{campaign_id}")).select_one("figure.errors-by-kind") \
        is None


def set_times(app, campaign_id, sent_at, offsets):
    """Give the campaign's messages, in id order, these seconds after ``sent_at`` as the
    time of their last status change."""
    with app.app_context():
        ids = db.session.execute(sa.select(Message.id).where(Message.campaign_id == campaign_id)
                                 .order_by(Message.id)).scalars().all()
        for message_id, offset in zip(ids, offsets, strict=True):
            db.session.execute(sa.update(Message).where(Message.id == message_id)
                               .values(updated_at=sent_at + timedelta(seconds=offset)))
        db.session.commit()


DELIVERY = [("+6581234567", "delivered", None), ("+6581234568", "delivered", None),
            ("+6581234569", "sent", None), ("+6581234570", "delivered", None),
            ("+6581110000", "undelivered", "30003"), ("+65 1234", None, None),
            ("+6581110004", "queued", None), ("+6581110005", "sending", None)]
# Seconds after sending: 30 s falls on an interval boundary; in-flight ones do not count.
DELIVERY_OFFSETS = [30, 300, 300, 720, 180, 0, 60, 400]


@pytest.fixture
def delivered(app, make_campaign):
    """A campaign sent two hours ago: 4 SENT and 2 ERROR over 12 minutes, 2 in flight."""
    sent_at = (utcnow() - timedelta(hours=2)).replace(microsecond=0)
    campaign_id = make_campaign("Clinic reminders", DELIVERY, sent_at=sent_at)
    set_times(app, campaign_id, sent_at, DELIVERY_OFFSETS)
    return campaign_id, sent_at


def seconds(label):
    """The seconds an offset label such as "+1 min 15 s" names."""
    units = {"d": 86400, "h": 3600, "min": 60, "s": 1}
    assert label.startswith("+"), label
    return sum(int(amount) * units[unit] for amount, unit in re.findall(r"(\d+) (\w+)", label))


def table_rows(document):
    return [[text(cell) for cell in row(["th", "td"])]
            for row in document.select("table.delivery-data tbody tr")]


def chart(client, campaign_id):
    response = client.get(f"/campaigns/{campaign_id}/delivery-chart", headers=HTMX)
    assert response.status_code == 200
    return page(response)


def test_delivery_numbers_are_the_real_counts_of_final_messages(app, client, delivered):
    campaign_id, sent_at = delivered
    rows = table_rows(chart(client, campaign_id))
    assert 20 <= len(rows) <= 60
    for by, _clock, sent, error, final, _new in rows:
        before = sent_at + timedelta(seconds=seconds(by))
        real = {status: count(app, Message, Message.campaign_id == campaign_id,
                              Message.status == status, Message.updated_at < before)
                for status in ("SENT", "ERROR")}
        assert (int(sent), int(error)) == (real["SENT"], real["ERROR"]), by
        assert int(final) == real["SENT"] + real["ERROR"]


def test_delivery_is_cumulative_and_ends_at_every_final_message(client, delivered):
    campaign_id, sent_at = delivered
    rows = table_rows(chart(client, campaign_id))
    finals = [int(row[4]) for row in rows]
    assert finals == sorted(finals)
    assert sum(int(row[5]) for row in rows) == finals[-1]  # the "new" column adds up
    assert rows[-1][2:5] == ["4", "2", "6"]
    campaign_page = page(client.get(f"/campaigns/{campaign_id}"))
    assert int(text(campaign_page.select_one("#count-sent"))) == 4
    assert int(text(campaign_page.select_one("#count-error"))) == 2
    # 12 minutes in intervals of 15 s: the first rows, and the clock time of each.
    assert [row[0] for row in rows[:5]] == ["+15 s", "+30 s", "+45 s", "+1 min", "+1 min 15 s"]
    assert rows[0][1] == (sent_at + timedelta(seconds=15)).strftime("%H:%M:%S")
    # By +30 s only the invalid number (at +0) is final: the one at +30 s counts from then on.
    assert rows[1][4] == "1" and rows[2][4] == "2"


def test_delivery_chart_is_an_image_labelled_with_its_numbers(client, delivered):
    campaign_id, _ = delivered
    document = chart(client, campaign_id)
    svg = document.select_one("svg.over-time")
    assert svg["role"] == "img" and svg["width"] == "100%" and svg.get("viewbox")
    label = svg["aria-label"]
    assert "4 SENT and 2 ERROR, 6 of 8 recipients" in label
    assert "The last one became final at +12 min" in label
    assert text(svg.find("title")) == label
    assert label in text(document.select_one(".chart-summary"))
    # SENT and ERROR differ by line style, named in the legend, not by colour alone.
    legend = text(document.select_one(".chart-legend"))
    assert "SENT (solid line): 4" in legend and "ERROR (dashed line): 2" in legend
    assert svg.select("polyline.chart-line-sent") and svg.select("polyline.chart-line-error")
    css = (ROOT / "portal" / "static" / "portal.css").read_text()
    assert re.search(r"\.chart-line-error \{[^}]*stroke-dasharray", css)
    ticks = [text(tick) for tick in svg.select("text.chart-tick")]
    assert "+0 min" in ticks and "+10 min" in ticks


def test_lines_rise_with_the_counts(client, delivered):
    campaign_id, _ = delivered
    svg = chart(client, campaign_id).select_one("svg.over-time")
    for line in svg.select("polyline"):
        points = [tuple(map(float, point.split(","))) for point in line["points"].split()]
        xs, ys = zip(*points)
        assert list(xs) == sorted(xs)
        assert list(ys) == sorted(ys, reverse=True)  # y grows downwards in SVG


def test_the_page_loads_the_chart_after_itself(client, delivered):
    campaign_id, _ = delivered
    url = f"/campaigns/{campaign_id}/delivery-chart"
    document = page(client.get(f"/campaigns/{campaign_id}"))
    slot = document.select_one("#delivery-chart")
    assert slot["hx-get"] == url and slot["hx-trigger"] == "load"
    assert slot.find("a")["href"] == url
    assert slot.find_previous_sibling("p")["class"] == ["rate"]
    assert document.select_one("svg.over-time") is None  # not counted on the page itself


def test_the_chart_link_opened_directly_is_a_page(client, delivered):
    campaign_id, _ = delivered
    document = page(client.get(f"/campaigns/{campaign_id}/delivery-chart"))
    assert text(document.find("h1")) == "Final statuses over time"
    assert document.select_one("header.top a.brand")
    assert document.select_one("svg.over-time")
    assert len(table_rows(document)) == len(table_rows(chart(client, campaign_id)))


def finish(app, campaign_id):
    """Every message of the campaign delivered, its counts moved with it."""
    with app.app_context():
        with write_transaction(db.engine) as connection:
            ids = connection.execute(sa.select(Message.provider_message_id).where(
                Message.campaign_id == campaign_id, Message.status != "SENT")).scalars().all()
            for message_id in ids:
                counters.apply_change(connection, message_id, counters.Change(
                    "SENT", "delivered", None, 60, utcnow()))


def test_polls_keep_the_chart_which_refreshes_itself_while_in_flight(app, client,
                                                                     make_campaign):
    campaign_id = make_campaign("Going out", [("+6581234567", "delivered", None),
                                              ("+6581234568", "sending", None)])
    first = page(client.get(f"/campaigns/{campaign_id}"))
    assert not first.select_one("#delivery-chart").has_attr("hx-preserve")
    poll = first.select_one("#stats")["hx-get"]
    for seen in ("", "x"):  # whether or not the counts changed
        polled = page(client.get(poll.replace("seen=", f"seen={seen}"), headers=HTMX))
        assert polled.select_one("#delivery-chart")["hx-preserve"] == "true"
    url = f"/campaigns/{campaign_id}/delivery-chart"
    loaded = chart(client, campaign_id).select_one("#delivery-chart")
    assert loaded["hx-get"] == url and loaded["hx-trigger"] == "every 30s"
    finish(app, campaign_id)
    last = page(client.get(poll, headers=HTMX))
    assert not last.select_one("#stats").has_attr("hx-trigger")
    assert not last.select_one("#delivery-chart").has_attr("hx-preserve")  # loaded anew


def test_a_finished_campaigns_chart_asks_for_nothing_more(client, make_campaign):
    campaign_id = make_campaign("Done", [("+6581234567", "delivered", None),
                                         ("+6581234568", "undelivered", "30003")])
    loaded = chart(client, campaign_id).select_one("#delivery-chart")
    assert not loaded.has_attr("hx-get") and not loaded.has_attr("hx-trigger")


def test_no_inline_styles_in_the_charts(client, delivered, make_campaign):
    campaign_id, _ = delivered
    errors_id = make_campaign("Errors", ERRORS)
    for document in (chart(client, campaign_id), page(client.get(f"/campaigns/{errors_id}"))):
        assert document.select("[style]") == []
        assert document.select("script:not([src])") == []


def test_before_any_final_status_the_chart_says_so(client, make_campaign):
    in_flight = make_campaign("Going out", [("+6581234567", "queued", None)])
    empty = make_campaign("Empty", [])
    for campaign_id in (in_flight, empty):
        document = chart(client, campaign_id)
        assert NO_FINAL in text(document)
        assert document.select_one("svg") is None


def test_another_teams_chart_reads_as_missing(client_as, make_campaign):
    hidden = make_campaign("Parks secret survey", DELIVERY, team="Parks")
    viewer = client_as("viewer", "Ops")
    for headers in ({}, HTMX):
        response = viewer.get(f"/campaigns/{hidden}/delivery-chart", headers=headers)
        assert response.status_code == 404
        body = response.get_data(as_text=True)
        assert "Parks" not in body and f"There is no campaign {hidden}." in body
    own = make_campaign("Ops campaign", DELIVERY)
    assert viewer.get(f"/campaigns/{own}/delivery-chart", headers=HTMX).status_code == 200


def test_signed_out_the_chart_sends_to_sign_in(anonymous, make_campaign):
    campaign_id = make_campaign("Clinic reminders", DELIVERY)
    response = anonymous.get(f"/campaigns/{campaign_id}/delivery-chart")
    assert response.status_code == 302 and response.location.startswith("/sign-in?")


@pytest.mark.parametrize("span", [20, 59, 60, 61, 600, 3599, 3600, 7200, 86400, 3 * 86400,
                                  40 * 86400, 400 * 86400])
def test_intervals_give_between_20_and_60_points(span):
    width = charts.interval_width(span)
    assert 20 <= span // width + 1 <= 60, width


@pytest.mark.parametrize("offset, unit, label", [
    (0, 60, "+0 min"), (0, 7200, "+0 h"), (0, 5, "+0 s"), (45, 15, "+45 s"),
    (120, 60, "+2 min"), (7200, 60, "+2 h"), (5400, 60, "+1 h 30 min"), (86400, 3600, "+1 d"),
])
def test_time_labels_read_naturally(offset, unit, label):
    assert charts.offset_label(offset, unit) == label
