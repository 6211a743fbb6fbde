"""Importing a campaign from a CSV file: plain lists and Twilio console exports, invalid
numbers and duplicates reported by line, and every kind of bad file refused with its line
and column, storing nothing."""

import io
import json
import logging
from datetime import datetime
from datetime import timezone

import pytest
import sqlalchemy as sa

from portal import counters
from portal import registration
from portal import uploads
from portal.db import db
from portal.models import Campaign
from portal.models import Message
from portal.models import StatusEvent
from portal.models import Team
from tests.conftest import page
from tests.conftest import sid
from tests.conftest import text

TWILIO_HEADER = ("Sid,From,To,Body,Status,Direction,ApiVersion,Price,PriceUnit,DateCreated,"
                 "DateSent,DateUpdated,AccountSid,NumSegments,ErrorCode,ErrorMessage,"
                 "MessagingServiceSid,SentDate")
ACCOUNT = "AC" + "a" * 32


def twilio_row(number, to, status, direction="outbound-api", error="", sent="",
               body="Clinic opens at 9"):
    date = f'"{sent or "Tue, 01 Dec 2026 08:00:00 +0000"}"'
    return (f"SM{number:032x},+6580000000,{to},\"{body}\",{status},{direction},2010-04-01,"
            f"-0.0075,USD,{date},{date},{date},{ACCOUNT},1,{error},,MG{'b' * 32},\"{sent}\"")


def csv_file(*lines, bom=False):
    data = "\r\n".join(lines).encode() + b"\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + data


@pytest.fixture
def team_id(app):
    with app.app_context():
        team = Team(name="Health")
        db.session.add(team)
        db.session.commit()
        return team.id


@pytest.fixture
def upload(client, team_id):
    """upload(file bytes, **form fields) → the response to the form."""

    def post(data, filename="list.csv", **fields):
        form = {"name": "Clinic reminders", "provider": "twilio", "team": str(team_id),
                "sent_at": "", **fields}
        if data is not None:
            form["file"] = (io.BytesIO(data), filename)
        return client.post("/campaigns/new", data=form, content_type="multipart/form-data")

    return post


def flashed(client):
    with client.session_transaction() as session:
        return session.get("_flashes", [])


def campaign_id_of(response):
    assert response.status_code == 303, response.get_data(as_text=True)
    prefix = "/campaigns/"
    assert response.location.startswith(prefix)
    return int(response.location[len(prefix):])


def stored_messages(app, campaign_id=None):
    with app.app_context():
        query = sa.select(Message.recipient, Message.provider_message_id, Message.status,
                          Message.provider_status, Message.error_code).order_by(Message.id)
        if campaign_id is not None:
            query = query.where(Message.campaign_id == campaign_id)
        return [tuple(row) for row in db.session.execute(query)]


def table_sizes(app):
    with app.app_context():
        return {model.__tablename__: db.session.execute(
            sa.select(sa.func.count()).select_from(model)).scalar()
            for model in (Campaign, Message, StatusEvent)}


def problem(response):
    return text(page(response).select_one("#problems"))


def test_the_form_offers_providers_and_teams(client, team_id):
    document = page(client.get("/campaigns/new"))
    assert [text(o) for o in document.select("#provider option")] == ["Twilio"]
    assert [text(o) for o in document.select("#team option")] == ["Choose…", "Health", "Ops"]
    assert document.select_one("form.upload")["enctype"] == "multipart/form-data"
    link = page(client.get("/")).find("a", string="Import a campaign")
    assert link["href"] == "/campaigns/new"


def test_a_plain_list_of_recipients_and_message_ids(app, client, upload, team_id):
    response = upload(csv_file("recipient,provider_message_id",
                               f"+6581234567,{'SM' + '1' * 32}",
                               f"9123 4567,{'SM' + '2' * 32}"))
    campaign_id = campaign_id_of(response)
    assert stored_messages(app, campaign_id) == [
        ("+6581234567", "SM" + "1" * 32, "QUEUED", None, None),
        ("+6591234567", "SM" + "2" * 32, "QUEUED", None, None)]
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        assert (campaign.name, campaign.provider, campaign.team_id) == \
            ("Clinic reminders", "twilio", team_id)
        assert abs((campaign.sent_at - datetime.now(timezone.utc)).total_seconds()) < 60
    campaign_page = page(client.get(response.location))
    assert text(campaign_page.find("h1")) == "Clinic reminders"
    assert text(campaign_page.select_one(".flash")) == "Imported 2 messages."


def test_a_twilio_console_export(app, client, upload):
    data = csv_file(TWILIO_HEADER,
                    twilio_row(1, "+6581234567", "delivered",
                               sent="Tue, 01 Dec 2026 08:00:05 +0000"),
                    twilio_row(2, "+6581234568", "undelivered", error="30003",
                               sent="Tue, 01 Dec 2026 08:00:01 +0000"),
                    twilio_row(3, "+6581234569", "failed", error="21610", body="Hi, see you"),
                    twilio_row(4, "+6580000000", "received", direction="inbound",
                               sent="Mon, 30 Nov 2026 07:00:00 +0000"),
                    twilio_row(5, "+6581234570", "sent", sent="2026-12-01T16:00:03+08:00"),
                    twilio_row(6, "+6581234571", "delivered", error="",
                               sent="Tue, 01 Dec 2026 09:00:00 +0100"))
    campaign_id = campaign_id_of(upload(data, "Messages.csv"))
    assert [(to, status, code) for to, _, _, status, code in stored_messages(app)] == [
        ("+6581234567", "delivered", None), ("+6581234568", "undelivered", "30003"),
        ("+6581234569", "failed", "21610"), ("+6581234570", "sent", None),
        ("+6581234571", "delivered", None)]
    assert flashed(client) == [("import", "Imported 5 messages. Skipped 1 inbound message "
                                          "(replies from recipients are not part of a "
                                          "campaign).")]
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        # The earliest SentDate of the outbound rows (09:00 +01:00 is 08:00 UTC).
        assert campaign.sent_at == datetime(2026, 12, 1, 8, 0, 0, tzinfo=timezone.utc)
        assert counters.check(db.session.connection(), campaign_id) == []
        events = db.session.execute(sa.select(StatusEvent.source)).scalars().all()
        assert events == ["upload"] * 5
    document = page(client.get(f"/campaigns/{campaign_id}"))
    assert {tile: text(document.select_one(f"#count-{tile}"))
            for tile in ("total", "sent", "error", "queued", "sending")} == \
        {"total": "5", "sent": "3", "error": "2", "queued": "0", "sending": "0"}


def test_invalid_numbers_and_duplicates_are_reported_by_line(app, client, upload,
                                                             make_campaign):
    earlier = make_campaign("Earlier", [("+6581110000", "delivered", None)])
    data = csv_file("phone,sid,status",
                    f"+6581234567,{'SM' + '1' * 32},delivered",   # line 2
                    f"12,{'SM' + '2' * 32},delivered",            # line 3: invalid
                    f"+6581234568,{'SM' + '1' * 32},sent",        # line 4: duplicate in file
                    f"+6581110000,{sid(earlier, 0)},delivered",   # line 5: already stored
                    f"not a number,{'SM' + '3' * 32},",           # line 6: invalid
                    "",                                           # line 7: blank, left out
                    f"+6581234569,{'SM' + '4' * 32},queued")      # line 8
    campaign_id = campaign_id_of(upload(data))
    assert flashed(client) == [("import", (
        "Imported 4 messages. 2 of them have a phone number that no one can use; they count "
        "as ERROR (lines 3, 6). Skipped 2 duplicates, already in the file or in the portal "
        "(lines 4, 5)."))]
    rows = stored_messages(app, campaign_id)
    assert [(status, code) for _, _, status, _, code in rows] == [
        ("SENT", None), ("ERROR", "invalid-number"), ("ERROR", "invalid-number"),
        ("QUEUED", None)]
    with app.app_context():
        assert counters.check(db.session.connection(), campaign_id) == []


def test_line_numbers_across_batches(client, upload, monkeypatch):
    monkeypatch.setattr(uploads, "BATCH", 4)
    lines = ["recipient,message id"]
    for n in range(30):
        lines.append(f"+65812{n:05d},SM{n % 25:032x}")  # rows 26..30 repeat rows 1..5
    lines.insert(3, '"+65 8123 0999",')  # line 4, no message id, quoted
    campaign_id_of(upload(csv_file(*lines)))
    ((_, message),) = flashed(client)
    assert message == ("Imported 26 messages. Skipped 5 duplicates, already in the file or "
                       "in the portal (lines 28, 29, 30, 31, 32).")


def test_every_stored_row_reads_back_as_it_was_registered(app, upload):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    odd = "+65 1\t2\\3 \u00e9"  # kept as typed: a tab, a backslash, a letter
    data = csv_file("recipient,provider_message_id,status,error_code",
                    f"+6581234567,SM{1:032x},delivered,",
                    f'"{odd}",SM{2:032x},failed,21211',
                    f"+6581234569,SM{3:032x},undelivered,30003")
    upload(data, "Messages.csv")
    after = datetime.now(timezone.utc)
    with app.app_context():
        stored = db.session.execute(
            sa.select(Message.recipient, Message.provider_message_id, Message.provider_status,
                      Message.error_code, Message.updated_at).order_by(Message.id)).all()
        logged = db.session.execute(
            sa.select(StatusEvent.provider_message_id, StatusEvent.params,
                      StatusEvent.received_at, StatusEvent.signature_ok)
            .order_by(StatusEvent.id)).all()
    assert [tuple(row[:4]) for row in stored] == [
        ("+6581234567", f"SM{1:032x}", "delivered", None),
        (odd, f"SM{2:032x}", None, "invalid-number"),
        ("+6581234569", f"SM{3:032x}", "undelivered", "30003")]
    # The invalid number has no event; the others keep what the file said.
    assert [(row[0], json.loads(row[1]), row[3]) for row in logged] == [
        (f"SM{1:032x}", {"status": "delivered", "error_code": None}, None),
        (f"SM{3:032x}", {"status": "undelivered", "error_code": "30003"}, None)]
    moments = [row[4] for row in stored] + [row[2] for row in logged]
    assert len(set(moments)) == 1 and before <= moments[0] <= after
    assert moments[0].tzinfo == timezone.utc


def test_messages_registered_elsewhere_meanwhile_refuse_the_import_whole(
        app, client, upload, make_campaign, monkeypatch):
    make_campaign("Sent by the API", [("+6581234567", "queued", None)])
    taken, sizes = stored_messages(app)[0][1], table_sizes(app)
    # As if the API registered it between the import's check for duplicates and its insert.
    monkeypatch.setattr(registration, "_registered_ids", lambda connection, ids: set())
    response = upload(csv_file("recipient,provider_message_id",
                               f"+6581234568,SM{7:032x}", f"+6581234569,{taken}"))
    assert response.status_code == 409
    assert problem(response) == ("Nothing was imported: another system registered some of "
                                 "these messages at the same moment. Import the file again. "
                                 "Fix this, then choose the file again and import it.")
    assert table_sizes(app) == sizes


def test_callbacks_that_came_first_are_applied_when_the_import_ends(
        app, upload, twilio_callback, monkeypatch):
    monkeypatch.setattr(uploads, "BATCH", 4)
    early = [f"SM{n:032x}" for n in (2, 9)]  # in the first batch and in the third
    for message_id in early:
        assert twilio_callback(message_id, "delivered").json["outcome"] == "pending"
    lines = ["recipient,message id"] + [f"+65812{n:05d},SM{n:032x}" for n in range(10)]
    campaign_id = campaign_id_of(upload(csv_file(*lines)))
    delivered = [row[1] for row in stored_messages(app, campaign_id) if row[2] == "SENT"]
    assert delivered == early
    with app.app_context():
        assert counters.check(db.session.connection(), campaign_id) == []
        outcomes = db.session.execute(sa.select(StatusEvent.outcome).where(
            StatusEvent.source == "callback")).scalars().all()
    assert outcomes == ["applied", "applied"]


def test_only_the_first_twenty_lines_are_listed(client, upload):
    # Without a message id the number is the key: line 2 is invalid, lines 3 to 26 repeat it.
    campaign_id_of(upload(csv_file("recipient", *["123"] * 25)))
    ((_, message),) = flashed(client)
    listed = ", ".join(str(line) for line in range(3, 23))
    assert message == ("Imported 1 message. 1 of them have a phone number that no one can "
                       "use; they count as ERROR (line 2). Skipped 24 duplicates, already in "
                       f"the file or in the portal (lines {listed} and 4 more).")


def test_headers_are_matched_without_case_or_spaces(app, client, upload):
    data = csv_file("  PHONE Number , Message ID,STATUS , Error Code,Sent Date, Notes",
                    f"+6581234567,{'SM' + '1' * 32},Undelivered,30008,2026-12-02 10:00:00,x",
                    bom=True)
    campaign_id = campaign_id_of(upload(data))
    assert stored_messages(app, campaign_id) == [
        ("+6581234567", "SM" + "1" * 32, "ERROR", "undelivered", "30008")]
    with app.app_context():
        assert db.session.get(Campaign, campaign_id).sent_at == \
            datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)


def test_the_sent_date_typed_in_the_form_wins(app, upload):
    data = csv_file("to,sentdate", "+6581234567,2026-12-02T10:00:00Z")
    campaign_id = campaign_id_of(upload(data, sent_at="2026-11-30T09:15"))
    with app.app_context():
        assert db.session.get(Campaign, campaign_id).sent_at == \
            datetime(2026, 11, 30, 9, 15, tzinfo=timezone.utc)


def test_one_log_line_with_the_counts_and_no_phone_number(client, upload, caplog):
    caplog.set_level(logging.INFO, logger="portal.views.uploads")
    campaign_id = campaign_id_of(upload(csv_file("msisdn", "+6581234567", "12")))
    records = [r for r in caplog.records if r.name == "portal.views.uploads"]
    assert len(records) == 1
    line = records[0].getMessage()
    assert f"campaign={campaign_id}" in line and "stored=2 invalid=1" in line
    assert "8123" not in line


TOO_LONG = "x" * 65
BAD_FILES = {
    "not UTF-8": (b"recipient,name\r\n+6581234567,Ren\xe9e\r\n",
                  ["Line 2:", "not UTF-8 text; save it as CSV UTF-8"]),
    "UTF-16": ("recipient\r\n+6581234567\r\n".encode("utf-16"), ["UTF-16", "CSV UTF-8"]),
    "binary": (b"recipient\r\n+6581234567\x00\x00\x01\r\n", ["Line 2:", "binary", "CSV UTF-8"]),
    "an Excel workbook": (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)),
                          ["Excel workbook", "CSV UTF-8"]),
    "empty": (b"", ["The file is empty"]),
    "only blank lines": (b"\r\n  \r\n", ["The file is empty"]),
    "no header": (b"+6581234567,SM1\r\n+6581234568,SM2\r\n",
                  ["Line 1:", "looks like data, not column names"]),
    "no recipient column": (b"name,sid\r\nAna,SM1\r\n",
                            ["no column for the phone number: name one of recipient, phone, "
                             "phone number, number, to, msisdn", "name, sid"]),
    "semicolons": (b"recipient;sid\r\n+6581234567;SM1\r\n",
                   ["Line 1:", "separated by semicolons or tabs", "comma delimited"]),
    "too few cells": (b"recipient,sid,status\r\n+6581234567,SM1,sent\r\n+6581234568,SM2\r\n",
                      ["Line 3:", "2 cells but the header has 3 columns"]),
    "too many cells": (b"recipient,sid\r\n+6581234567,SM1,sent\r\n",
                       ["Line 2:", "3 cells but the header has 2 columns"]),
    "an unclosed quote": (b'recipient,sid\r\n+6581234567,SM1\r\n"+6581234568,SM2\r\n'
                          b"+6581234569,SM3\r\n", ["Line 3:", "never closed"]),
    "text after a closing quote": (b'recipient,sid\r\n"+6581234567"x,SM1\r\n',
                                   ["Line 2:", "closing quote"]),
    "an unknown status": (b"recipient,sid,status\r\n+6581234567,SM1,sent\r\n"
                          b"+6581234568,SM2,deliverd\r\n",
                          ['Line 3, column "status" (C):', "'deliverd' is not a Twilio status",
                           "accepted, scheduled, queued"]),
    "a malformed date": (b"recipient,Sent Date\r\n+6581234567,2026-12-01\r\n"
                         b"+6581234568,01/12/2026\r\n",
                         ['Line 3, column "Sent Date" (B):', "'01/12/2026' is not a date",
                          "ISO 8601", "Tue, 01 Dec 2026 08:00:00 +0000"]),
    "a long error code": (b"recipient,ErrorCode\r\n+6581234567," + b"9" * 33 + b"\r\n",
                          ['Line 2, column "ErrorCode" (B):', "33 characters", "at most 32"]),
    "a long message id": (("recipient,status,x,message_sid\r\n+6581234567,sent,,"
                           + TOO_LONG + "\r\n").encode(),
                          ['Line 2, column "message_sid" (D):', "65 characters",
                           "at most 64"]),
    "a header only": (b"recipient,sid\r\n", ["no messages under it"]),
    "only inbound rows": (csv_file(TWILIO_HEADER, twilio_row(1, "+6581234567", "received",
                                                             direction="inbound")),
                          ["only inbound messages (1)"]),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_a_bad_file_is_refused_and_nothing_is_stored(app, client, upload, kind):
    data, expected = BAD_FILES[kind]
    before = table_sizes(app)
    response = upload(data, name="Flood warning")
    assert response.status_code == 400
    message = problem(response)
    assert message.startswith("Nothing was imported.")
    for part in expected:
        assert part in message
    assert page(response).select_one("#name")["value"] == "Flood warning"
    assert table_sizes(app) == before == {"campaigns": 0, "messages": 0, "status_events": 0}
    assert flashed(client) == []


def test_a_bad_line_after_the_first_batch_stores_nothing(app, upload, monkeypatch):
    monkeypatch.setattr(uploads, "BATCH", 2)
    lines = ["recipient,sid,status"] + [f"+65812345{n:02d},SM{n},sent" for n in range(7)]
    response = upload(csv_file(*lines, "+6581234599,SM99,lost"))
    assert response.status_code == 400
    assert "Line 9, column" in problem(response)
    assert table_sizes(app) == {"campaigns": 0, "messages": 0, "status_events": 0}
    # The portal carries on: the transaction was rolled back and its lock released.
    campaign_id_of(upload(csv_file(*lines)))
    assert table_sizes(app) == {"campaigns": 1, "messages": 7, "status_events": 7}


def test_a_file_whose_messages_are_all_stored_already(app, upload):
    data = csv_file("recipient,sid", f"+6581234567,{'SM' + '1' * 32}")
    campaign_id_of(upload(data))
    response = upload(data)
    assert response.status_code == 400
    assert "already in the portal (1 duplicates)" in problem(response)
    assert table_sizes(app)["campaigns"] == 1


def test_form_problems_keep_what_was_typed(app, upload):
    response = upload(None, name="", team="999", sent_at="next tuesday", provider="nope")
    assert response.status_code == 400
    message = problem(response)
    for part in ("Give the campaign a name", "Choose the provider", "Choose the team",
                 "sent date is not a date", "Choose the CSV file"):
        assert part in message
    assert page(response).select_one("#sent_at")["value"] == "next tuesday"
    assert table_sizes(app)["campaigns"] == 0


def test_a_file_over_the_limit(app, upload):
    # Under 500 KB, so that the test client keeps the body in memory, not in a file.
    app.config["PORTAL_MAX_UPLOAD_BYTES"] = 256 * 1024
    response = upload(b"recipient\r\n" + b"+6581234567\r\n" * 25_000)
    assert response.status_code == 413
    assert "The file is over 0.25 MB" in problem(response)
    assert table_sizes(app)["campaigns"] == 0
