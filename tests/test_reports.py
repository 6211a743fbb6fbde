"""Delivery reports: every format read back by a real reader and compared row for row with
the database."""

import csv
import io
import json
from datetime import date

import openpyxl
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plugins.csv_report import neutralise
from plugins.csv_report import neutralise_batch
from portal.db import db
from portal.models import Message
from portal.plugin_manager import current_plugins
from tests.conftest import page
from tests.conftest import text

HEADER = ["Phone number", "Status", "Provider status", "Error code", "Error title",
          "Follow-up action", "Provider message ID", "Last update"]

MIX = [
    ("+6581234567", "delivered", None),
    ("+6591234567", "sent", None),
    ("+6581110000", "undelivered", "30003"),
    ("=HYPERLINK(\"http://x\")", None, None),
    ("+6581110002", "failed", "21610"),
    ("+6581110003", "queued", None),
    ("001 65 8111 0004", "failed", "39999"),
]


def expected_rows(app, campaign_id, only_errors=False):
    """What the report must hold, built from the database independently of the report."""
    with app.app_context():
        query = sa.select(Message).where(Message.campaign_id == campaign_id).order_by(Message.id)
        if only_errors:
            query = query.where(Message.status == "ERROR")
        rows = []
        for message in db.session.execute(query).scalars():
            title = action = ""
            if message.error_code:
                interpretation = current_plugins().interpret_error("twilio", message.error_code)
                title, action = interpretation.title, interpretation.action
            rows.append([message.recipient, message.status, message.provider_status or "",
                         message.error_code or "", title, action,
                         message.provider_message_id or "",
                         message.updated_at.isoformat(timespec="seconds")])
        return rows


def read_csv(data):
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_report_equals_the_database(app, client, make_campaign):
    campaign_id = make_campaign("Road closure", MIX)
    response = client.get(f"/campaigns/{campaign_id}/report.csv")
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    today = date.today().isoformat()
    assert f'filename="road-closure-{today}.csv"' in response.headers["Content-Disposition"]
    rows = read_csv(response.get_data())
    assert rows[0] == HEADER
    expected = expected_rows(app, campaign_id)
    assert len(rows) - 1 == len(MIX)
    for got, want in zip(rows[1:], expected):
        assert got == [neutralise(cell) for cell in want]
    # Numbers read as numbers, the formula is neutralised, 001 is an international prefix.
    assert rows[1][0] == "+6581234567"
    assert rows[4][0] == "'=HYPERLINK(\"http://x\")" and rows[4][3] == "invalid-number"
    assert rows[7][0] == "+6581110004" and rows[7][4] == "Unknown error 39999"
    assert rows[1][7].endswith("+00:00")


def test_csv_only_errors(app, client, make_campaign):
    campaign_id = make_campaign("Road closure", MIX)
    response = client.get(f"/campaigns/{campaign_id}/report.csv?only=errors")
    assert "road-closure-errors-" in response.headers["Content-Disposition"]
    rows = read_csv(response.get_data())[1:]
    assert [row[3] for row in rows] == ["30003", "invalid-number", "21610", "39999"]
    assert len(rows) == len(expected_rows(app, campaign_id, only_errors=True))


def test_report_order_is_stable_across_pages(app, make_campaign):
    from portal import reports
    campaign_id = make_campaign("Paged", [(f"+65812{n:05d}", "delivered", None)
                                          for n in range(23)])
    with app.app_context():
        from portal.models import Campaign
        campaign = db.session.get(Campaign, campaign_id)
        rows = list(reports.report_rows(db.session.connection(), campaign, current_plugins(),
                                        only_errors=False, page_rows=5))
    assert [row[0] for row in rows] == [f"+65812{n:05d}" for n in range(23)]


@pytest.mark.parametrize("cell, safe", [
    ("=1+2", "'=1+2"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("+6581234567", "+6581234567"), ("-12.5", "-12.5"), ("42", "42"), ("plain", "plain"),
    ("", ""),
])
def test_csv_neutralises_formulas_but_not_numbers(cell, safe):
    assert neutralise(cell) == safe


def test_xlsx_report_equals_the_database(app, client, make_campaign):
    campaign_id = make_campaign("Road closure", MIX)
    response = client.get(f"/campaigns/{campaign_id}/report.xlsx")
    assert response.status_code == 200
    assert response.content_type.startswith("application/vnd.openxmlformats")
    workbook = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    sheet = workbook.active
    values = [[cell if cell is not None else "" for cell in row]
              for row in sheet.iter_rows(values_only=True)]
    assert values[0] == HEADER
    assert values[1:] == expected_rows(app, campaign_id)
    assert sheet["A2"].data_type == "s"  # the phone number is text
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"


def test_xlsx_only_errors(app, client, make_campaign):
    campaign_id = make_campaign("Road closure", MIX)
    response = client.get(f"/campaigns/{campaign_id}/report.xlsx?only=errors")
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    rows = [[cell or "" for cell in row] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert rows == expected_rows(app, campaign_id, only_errors=True)


def test_jsonl_report_from_the_example_plugin(app, client, make_campaign):
    campaign_id = make_campaign("Road closure", MIX)
    response = client.get(f"/campaigns/{campaign_id}/report.jsonl")
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    expected = expected_rows(app, campaign_id)
    assert [list(line.values()) for line in lines] == expected
    assert list(lines[0]) == [title.lower().replace(" ", "_") for title in HEADER]


def test_empty_campaign_reports_have_a_header_only(client, make_campaign):
    campaign_id = make_campaign("Empty", [])
    assert read_csv(client.get(f"/campaigns/{campaign_id}/report.csv").get_data()) == [HEADER]
    sheet = openpyxl.load_workbook(io.BytesIO(
        client.get(f"/campaigns/{campaign_id}/report.xlsx").get_data())).active
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [HEADER]


def test_unknown_format_is_a_404_naming_the_formats(client, make_campaign):
    campaign_id = make_campaign("Any", [])
    response = client.get(f"/campaigns/{campaign_id}/report.pdf")
    assert response.status_code == 404
    message = text(page(response))
    assert "No installed exporter writes .pdf reports" in message
    assert "csv, jsonl, xlsx" in message


def test_unknown_only_value_is_a_400(client, make_campaign):
    campaign_id = make_campaign("Any", [])
    response = client.get(f"/campaigns/{campaign_id}/report.csv?only=everything")
    assert response.status_code == 400
    assert "only=errors" in text(page(response))


CELLS = st.one_of(
    st.sampled_from(["+6581234567", "+1", "-", "=", "+", "@x", "\tx", "\rx", "-12.5", "42",
                     "SM0a", "", "x\x00=y", "\x00", "+65 1234", "=A1,B2", 'say "hi"']),
    st.text(alphabet="=+-@\t\r\x00,\"0123456789ab ", max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(rows=st.integers(1, 4).flatmap(
    lambda width: st.lists(st.lists(CELLS, min_size=width, max_size=width), max_size=30)))
def test_batch_neutralising_equals_neutralising_each_cell(rows):
    assert [list(row) for row in neutralise_batch(rows)] == \
        [[neutralise(cell) for cell in row] for row in rows]
