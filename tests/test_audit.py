"""The audit log: every report download (with the rows it held) and API export, every
sign-in and sign-out, every change to users, teams and tokens, each one row with who did
it; and the admin page that shows and filters them."""

import csv
import io
import json
from datetime import datetime
from datetime import timezone

import openpyxl
import pytest
import sqlalchemy as sa

from portal.db import db
from portal.models import ApiToken
from portal.models import AuditEvent
from portal.models import Team
from portal.models import User
from tests.conftest import PASSWORD
from tests.conftest import page
from tests.conftest import text

ADMIN = "admin.ops@example.gov"
MIX = [("+6581234567", "delivered", None), ("+6591234567", "sent", None),
       ("+6581110000", "undelivered", "30003"), ("+65 1234", None, None),
       ("+6581110002", "queued", None)]
ERRORS_IN_MIX = 2


def events(app, action=None):
    """Every audit row (of ``action``), oldest first, as plain dicts."""
    with app.app_context():
        query = sa.select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return [{"action": row.action, "actor": row.actor, "user_id": row.user_id,
                 "token_id": row.token_id, "campaign_id": row.campaign_id,
                 "address": row.address, "details": json.loads(row.details)}
                for row in db.session.execute(query).scalars()]


def user_id(app, email):
    with app.app_context():
        return db.session.execute(sa.select(User.id).where(User.email == email)).scalar_one()


def team_id(app, name):
    with app.app_context():
        return db.session.execute(sa.select(Team.id).where(Team.name == name)).scalar_one()


def file_rows(extension, data):
    """The recipients' rows in a downloaded report, its header left out."""
    if extension == "csv":
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))[1:]
    if extension == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(data)).active
        return list(sheet.iter_rows(min_row=2, values_only=True))
    return [json.loads(line) for line in data.decode().splitlines()]


# What is written

@pytest.mark.parametrize("extension", ["csv", "xlsx", "jsonl"])
@pytest.mark.parametrize("only_errors", [False, True])
def test_a_report_download_writes_one_row_with_its_row_count(app, client, make_campaign,
                                                              extension, only_errors):
    campaign_id = make_campaign("Clinic reminders", MIX)
    query = "?only=errors" if only_errors else ""
    response = client.get(f"/campaigns/{campaign_id}/report.{extension}{query}")
    assert response.status_code == 200
    rows = file_rows(extension, response.get_data())  # the writer thread is done now
    assert len(rows) == (ERRORS_IN_MIX if only_errors else len(MIX))

    [event] = events(app, "report.download")
    assert event["actor"] == ADMIN and event["user_id"] == user_id(app, ADMIN)
    assert event["campaign_id"] == campaign_id and event["token_id"] is None
    assert event["details"] == {"format": extension, "only_errors": only_errors,
                                "rows": len(rows)}
    assert event["address"] == "127.0.0.1"


def test_each_download_is_its_own_row_with_its_downloader(app, client_as, make_campaign):
    campaign_id = make_campaign("Clinic reminders", MIX)
    viewer = client_as("viewer", "Ops")
    viewer.get(f"/campaigns/{campaign_id}/report.csv").get_data()
    viewer.get(f"/campaigns/{campaign_id}/report.csv?only=errors").get_data()
    client_as("admin").get(f"/campaigns/{campaign_id}/report.xlsx").get_data()
    assert [(e["actor"], e["details"]["format"], e["details"]["rows"])
            for e in events(app, "report.download")] == [
        ("viewer.ops@example.gov", "csv", len(MIX)),
        ("viewer.ops@example.gov", "csv", ERRORS_IN_MIX),
        (ADMIN, "xlsx", len(MIX))]


def test_a_refused_download_writes_no_row(app, client_as, make_campaign):
    campaign_id = make_campaign("Parks survey", MIX, team="Parks")
    viewer = client_as("viewer", "Ops")
    assert viewer.get(f"/campaigns/{campaign_id}/report.csv").status_code == 404
    assert viewer.get(f"/campaigns/{campaign_id}/report.pdf").status_code == 404
    assert events(app, "report.download") == []


def test_an_api_stats_export_is_written_with_the_token_as_actor(app, anonymous, api_token):
    token = api_token()
    auth = {"Authorization": f"Bearer {token}"}
    campaign_id = anonymous.post("/api/campaigns", headers=auth, json={
        "name": "Flood warning", "provider": "twilio"}).json["id"]
    assert anonymous.get(f"/api/campaigns/{campaign_id}/stats", headers=auth).status_code == 200
    with app.app_context():
        token_id = db.session.execute(sa.select(ApiToken.id)).scalar_one()
    [event] = events(app, "api.stats")
    assert event["actor"] == f"token {token_id} (tests)"
    assert (event["token_id"], event["user_id"]) == (token_id, None)
    assert event["campaign_id"] == campaign_id


def sign_in(client, email, password=PASSWORD):
    return client.post("/sign-in", data={"email": email, "password": password})


def test_sign_in_failed_sign_in_and_sign_out_are_written(app, anonymous, make_user):
    reader = make_user("reader@example.gov")
    assert sign_in(anonymous, "reader@example.gov", "not the password").status_code == 401
    assert sign_in(anonymous, "Nobody@Example.gov", "not the password").status_code == 401
    assert sign_in(anonymous, "reader@example.gov").status_code == 302
    assert anonymous.post("/sign-out").status_code == 302
    assert [(e["action"], e["actor"], e["user_id"], e["details"]) for e in events(app)] == [
        ("sign_in.failed", "anonymous", None, {"email": "reader@example.gov"}),
        ("sign_in.failed", "anonymous", None, {"email": "nobody@example.gov"}),
        ("sign_in", "reader@example.gov", reader, {}),
        ("sign_out", "reader@example.gov", reader, {}),
    ]


def test_user_create_disable_and_enable_are_written(app, client):
    created = client.post("/admin/users", data={
        "email": "New.Person@example.gov", "team": team_id(app, "Ops"), "role": "manager",
        "password": "a long first password"})
    assert created.status_code == 303
    person = user_id(app, "new.person@example.gov")
    assert client.post(f"/admin/users/{person}/active", data={"active": "0"}).status_code == 303
    assert client.post(f"/admin/users/{person}/active", data={"active": "1"}).status_code == 303
    assert [(e["action"], e["actor"], e["details"]) for e in events(app)] == [
        ("user.create", ADMIN, {"email": "new.person@example.gov", "role": "manager",
                                "team": "Ops"}),
        ("user.disable", ADMIN, {"email": "new.person@example.gov"}),
        ("user.enable", ADMIN, {"email": "new.person@example.gov"}),
    ]


def test_team_create_is_written(app, client):
    assert client.post("/admin/teams", data={"name": "Roads"}).status_code == 303
    [event] = events(app)
    assert (event["action"], event["actor"], event["details"]) == \
        ("team.create", ADMIN, {"team": "Roads"})


def test_token_create_and_revoke_on_the_tokens_page_are_written(app, client_as):
    manager = client_as("manager", "Ops")
    made = manager.post("/tokens", data={"name": "sender", "team": team_id(app, "Ops")})
    assert made.status_code == 201
    with app.app_context():
        token_id = db.session.execute(sa.select(ApiToken.id)).scalar_one()
    assert manager.post(f"/tokens/{token_id}/revoke").status_code == 200
    assert [(e["action"], e["actor"], e["details"]) for e in events(app)] == [
        ("token.create", "manager.ops@example.gov",
         {"token_id": token_id, "name": "sender", "team": "Ops"}),
        ("token.revoke", "manager.ops@example.gov", {"token_id": token_id, "name": "sender"}),
    ]


def test_refused_and_failed_changes_write_no_row(app, client, client_as, make_user):
    viewer = client_as("viewer", "Ops")
    other = make_user("other@example.gov")
    assert viewer.post("/admin/teams", data={"name": "Rogue"}).status_code == 403
    assert viewer.post(f"/admin/users/{other}/active", data={"active": "0"}).status_code == 403
    assert client.post("/admin/teams", data={"name": "  "}).status_code == 400
    assert client.post("/admin/users", data={"email": "short@example.gov",
                                             "team": team_id(app, "Ops"), "role": "viewer",
                                             "password": "short"}).status_code == 400
    assert client.post("/tokens", data={"name": "", "team": team_id(app, "Ops")}) \
        .status_code == 400
    assert client.post("/tokens/987654/revoke").status_code == 404
    assert events(app) == []


# The page

def audit_rows(response):
    """(action, who, campaign, details) of each row the audit page shows."""
    assert response.status_code in (200, 400)
    return [tuple(text(cell) for cell in row("td")[1:5])
            for row in page(response).select("table.audit tr[data-action]")]


@pytest.fixture
def history(app, client, client_as, anonymous, make_user, make_campaign):
    """Sign-ins, downloads and changes by several people; returns the two campaign ids."""
    make_user("reader@example.gov")
    sign_in(anonymous, "reader@example.gov", "not the password")
    sign_in(anonymous, "reader@example.gov")
    first = make_campaign("Clinic reminders", MIX)
    second = make_campaign("Flood warning", MIX)
    anonymous.get(f"/campaigns/{first}/report.csv").get_data()
    client.get(f"/campaigns/{second}/report.jsonl?only=errors").get_data()
    client.post("/admin/teams", data={"name": "Roads"})
    client_as("manager", "Ops").post("/tokens", data={"name": "sender",
                                                      "team": team_id(app, "Ops")})
    return first, second


def test_the_page_shows_every_row_newest_first(app, client, history):
    first, second = history
    with app.app_context():
        token_id = db.session.execute(sa.select(ApiToken.id)).scalar_one()
    assert audit_rows(client.get("/admin/audit")) == [
        ("token.create", "manager.ops@example.gov", "",
         f"name: sender; team: Ops; token_id: {token_id}"),
        ("team.create", ADMIN, "", "team: Roads"),
        ("report.download", ADMIN, str(second), "format: jsonl; only_errors: True; rows: 2"),
        ("report.download", "reader@example.gov", str(first),
         "format: csv; only_errors: False; rows: 5"),
        ("sign_in", "reader@example.gov", "", ""),
        ("sign_in.failed", "anonymous", "", "email: reader@example.gov"),
    ]


def test_the_page_filters_by_action(client, history):
    rows = audit_rows(client.get("/admin/audit?action=report.download"))
    assert [row[0] for row in rows] == ["report.download", "report.download"]
    options = page(client.get("/admin/audit?action=sign_in")).select("#action option")
    assert [text(option) for option in options] == [
        "All", "report.download", "sign_in", "sign_in.failed", "team.create", "token.create"]
    assert [option.get("selected") is not None for option in options].index(True) == 2


def test_the_page_filters_by_who(client, history):
    rows = audit_rows(client.get("/admin/audit?actor=READER@"))
    assert [(row[0], row[1]) for row in rows] == [("report.download", "reader@example.gov"),
                                                  ("sign_in", "reader@example.gov")]
    assert audit_rows(client.get("/admin/audit?actor=nobody")) == []
    assert "Nothing matches these filters." in text(page(client.get("/admin/audit?actor=x@y")))


def test_the_page_filters_by_campaign(client, history):
    first, second = history
    rows = audit_rows(client.get(f"/admin/audit?campaign={first}"))
    assert rows == [("report.download", "reader@example.gov", str(first),
                     "format: csv; only_errors: False; rows: 5")]
    combined = audit_rows(client.get(f"/admin/audit?campaign={second}&actor=reader"))
    assert combined == []


def dated(app, *days):
    """One team.create row on each day (noon UTC), named after the day."""
    with app.app_context():
        for day in days:
            at = datetime.fromisoformat(f"{day}T12:00:00+00:00")
            db.session.add(AuditEvent(action="team.create", actor=ADMIN, at=at,
                                      details=json.dumps({"team": day})))
        db.session.commit()


@pytest.mark.parametrize("query, shown", [
    ("from=2026-02-01", ["2026-03-10", "2026-02-10"]),
    ("to=2026-02-10", ["2026-02-10", "2026-01-10"]),
    ("from=2026-02-10&to=2026-02-10", ["2026-02-10"]),
    ("from=2026-01-11&to=2026-02-09", []),
    ("from=2026-02-11&to=2026-02-01", []),
])
def test_the_page_filters_by_date(app, client, query, shown):
    dated(app, "2026-01-10", "2026-02-10", "2026-03-10")
    rows = audit_rows(client.get(f"/admin/audit?{query}"))
    assert [row[3] for row in rows] == [f"team: {day}" for day in shown]


@pytest.mark.parametrize("query", ["from=03/12/2026", "to=2026-13-01", "from=yesterday",
                                   "to=2026-02-30"])
def test_a_malformed_date_is_refused_with_how_to_write_it(app, client, query):
    dated(app, "2026-01-10")
    response = client.get(f"/admin/audit?{query}")
    assert response.status_code == 400
    assert text(page(response).select_one("[role=alert]")) == \
        "Dates are written YYYY-MM-DD, like 2026-12-03."


@pytest.mark.parametrize("value", [
    "abc", "12a", "-3", "1.5",
    "²",
    "9" * 20,
])
def test_a_malformed_campaign_filter_is_refused_with_an_example(app, client, value):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production, not raise
    response = client.get("/admin/audit", query_string={"campaign": value})
    assert response.status_code == 400
    assert text(page(response).select_one("[role=alert]")) == \
        "The campaign filter takes a campaign number, like 12."


def test_the_page_goes_back_in_pages_of_fifty(app, client):
    dated(app, *[f"2026-01-{day:02d}" for day in range(1, 29)],
          *[f"2026-02-{day:02d}" for day in range(1, 29)])
    first = client.get("/admin/audit")
    assert len(audit_rows(first)) == 50
    older = page(first).find("a", rel="next")["href"]
    rows = audit_rows(client.get(older))
    assert [row[3] for row in rows] == [f"team: 2026-01-{day:02d}" for day in range(6, 0, -1)]
    assert page(client.get(older)).find("a", rel="next") is None


def test_the_filters_are_kept_from_page_to_page(app, client):
    dated(app, *[f"2026-01-{day:02d}" for day in range(1, 29)],
          *[f"2026-02-{day:02d}" for day in range(1, 29)])
    with app.app_context():
        db.session.add(AuditEvent(action="sign_in", actor=ADMIN,
                                  at=datetime(2026, 1, 15, tzinfo=timezone.utc)))
        db.session.commit()
    first = page(client.get("/admin/audit?action=team.create"))
    older = first.find("a", rel="next")["href"]
    assert "action=team.create" in older
    assert {row[0] for row in audit_rows(client.get(older))} == {"team.create"}


@pytest.mark.parametrize("number", [
    "0", "-2", "x", "3",
    "9" * 20,
])
def test_any_page_number_gives_a_page(app, client, number):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    dated(app, "2026-01-10")
    response = client.get("/admin/audit", query_string={"page": number})
    assert response.status_code == 200
    rows = audit_rows(response)
    assert rows == ([] if number.isdigit() and int(number) > 1 else
                    [("team.create", ADMIN, "", "team: 2026-01-10")])


@pytest.mark.parametrize("role", ["viewer", "manager"])
def test_the_page_is_refused_to_non_admins(client_as, history, role):
    response = client_as(role, "Ops").get("/admin/audit")
    assert response.status_code == 403
    assert "This needs an admin of the team" in text(page(response))
    assert "reader@example.gov" not in response.get_data(as_text=True)
