"""Who may reach what: every route carries an access rule and is closed without one; another
team's campaigns are as invisible as missing ones; viewers read, managers also import, sync
and make tokens for their own team, admins do everything."""

import io
import re
from types import SimpleNamespace
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from portal import access
from portal import reports
from portal.db import db
from portal.models import ROLES
from portal.models import ApiToken
from portal.models import AuditEvent
from portal.models import Campaign
from portal.models import Job
from portal.models import Message
from portal.models import Team
from portal.models import User
from portal.plugin_manager import current_plugins
from tests.conftest import HTMX
from tests.conftest import PASSWORD
from tests.conftest import add_user
from tests.conftest import count
from tests.conftest import page
from tests.conftest import signed_in
from tests.conftest import text

OTHER_TEAM = "Parks"
SECRET_NAME = "Parks secret survey"
SECRET_NUMBERS = ("+6581119991", "+6581119992", "+6581119993")
SECRET_MESSAGES = [(SECRET_NUMBERS[0], "delivered", None),
                   (SECRET_NUMBERS[1], "undelivered", "30003"),
                   (SECRET_NUMBERS[2], "queued", None)]
MISSING = 987654  # an id no test object gets
FORMATS = ("csv", "xlsx", "jsonl")
ADMIN_PAGES = ("/admin/users", "/admin/teams", "/admin/audit", "/plugins")
NEEDS_MANAGER = "This needs a manager of the team"
NEEDS_ADMIN = "This needs an admin of the team"


def unguarded_routes(app):
    """Every route (but static files) whose view says nothing about who may reach it."""
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if rule.endpoint != "static"
                  and not getattr(app.view_functions[rule.endpoint], "portal_access", None))


def rules_by_access(app):
    """{access mark: [(rule, method), …]} for every route and method but static files."""
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        mark = getattr(app.view_functions[rule.endpoint], "portal_access", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.setdefault(mark, []).append((rule, method))
    return found



def snapshot(app):
    """What an anonymous or refused request must never change."""
    with app.app_context():
        return {
            "teams": db.session.execute(sa.select(Team.name).order_by(Team.id)).all(),
            "users": db.session.execute(
                sa.select(User.email, User.active, User.role).order_by(User.id)).all(),
            "tokens": db.session.execute(
                sa.select(ApiToken.id, ApiToken.revoked_at).order_by(ApiToken.id)).all(),
            "campaigns": db.session.execute(sa.select(Campaign.id).order_by(Campaign.id)).all(),
            "messages": count(app, Message),
            "jobs": db.session.execute(sa.select(Job.id, Job.state).order_by(Job.id)).all(),
        }


def team_id(app, name):
    with app.app_context():
        return db.session.execute(sa.select(Team.id).where(Team.name == name)).scalar_one()


def add_job(app, campaign_id, state="done"):
    with app.app_context():
        job = Job(kind="sync", campaign_id=campaign_id, state=state, message="Finished")
        db.session.add(job)
        db.session.commit()
        return job.id


def token_row(app, name):
    """(id, team name, revoked_at) of the token called ``name``."""
    with app.app_context():
        row = db.session.execute(sa.select(ApiToken).where(ApiToken.name == name)).scalar_one()
        return SimpleNamespace(id=row.id, team=row.team.name, revoked_at=row.revoked_at)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def without_csrf_tokens(body):
    """The page with its CSRF tokens blanked: they are signed with the time, so two pages
    of the same session may differ there and nowhere else."""
    body = re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken": ""', body)
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', body)


def csv_upload(name, team, *numbers):
    lines = ["recipient,provider_message_id"] + [
        f"{number},SM{index:032x}" for index, number in enumerate(numbers, start=77)]
    data = ("\r\n".join(lines) + "\r\n").encode()
    return {"name": name, "provider": "twilio", "team": str(team), "sent_at": "",
            "file": (io.BytesIO(data), "list.csv")}


@pytest.fixture
def inline(app):
    app.config["PORTAL_RUN_IN_BACKGROUND"] = False


def add_prepared_report(app, campaign_id, instance_path):
    """A finished report job of the campaign, with its file in the app's instance folder."""
    app.instance_path = str(instance_path)
    with app.app_context():
        exporter = current_plugins().exporters()["csv"]
        job_id, _new = reports.start_job(db.engine, campaign_id, exporter, only_errors=False)
        reports.update_job(db.engine, job_id, state=reports.DONE)
        job = db.session.get(Job, job_id)
    folder = instance_path / "reports"
    folder.mkdir()
    reports.prepared_path(folder, job, "csv", False).write_bytes(b"Phone number\r\n")
    return job_id


@pytest.fixture
def objects(app, make_campaign, make_user, api_token, tmp_path):
    """A real object behind every URL parameter of the portal."""
    campaign_id = make_campaign(SECRET_NAME, SECRET_MESSAGES)
    api_token()
    with app.app_context():
        token_id = db.session.execute(sa.select(ApiToken.id)).scalar_one()
    return {"campaign_id": campaign_id, "job_id": add_job(app, campaign_id),
            "report_job_id": add_prepared_report(app, campaign_id, tmp_path),
            "token_id": token_id, "user_id": make_user("someone@example.gov"),
            "extension": "csv", "provider_name": "twilio"}


def back_to(sign_in_url):
    """Where the sign-in page will lead after signing in."""
    return parse_qs(urlsplit(sign_in_url).query)["next"][0]


def path_of(rule, values):
    if "/report-jobs/" in rule.rule:  # a report job's id, not the sync job's
        values = {**values, "job_id": values["report_job_id"]}
    return rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)[1]


# Every route has a rule, and a route without one is closed

def test_every_route_has_an_access_rule(app):
    assert unguarded_routes(app) == []
    assert set(rules_by_access(app)) <= set(ROLES) | {access.PUBLIC, access.TOKEN, access.SIGNATURE}


def test_only_sign_in_and_the_health_check_are_public(app):
    public = {(rule.rule, method) for rule, method in rules_by_access(app)[access.PUBLIC]}
    assert public == {("/sign-in", "GET"), ("/sign-in", "POST"), ("/healthz", "GET")}
    assert all(rule.rule.startswith("/api/") for rule, _ in rules_by_access(app)[access.TOKEN])
    assert [rule.rule for rule, _ in rules_by_access(app)[access.SIGNATURE]] == \
        ["/callbacks/<provider_name>"]


def test_a_route_added_without_a_rule_is_refused_and_reported(app, password_hash):
    ran = []

    def open_secret():
        ran.append(True)
        return "the secret"

    app.add_url_rule("/unmarked", "unmarked", open_secret)
    assert unguarded_routes(app) == ["/unmarked"]

    admin = signed_in(app, add_user(app, password_hash, "root@example.gov", "admin"))
    for client in (app.test_client(), admin):
        response = client.get("/unmarked")
        assert response.status_code == 500
        body = response.get_data(as_text=True)
        assert "The page /unmarked has no access rule, so it is closed." in text(page(response))
        assert "the secret" not in body
    assert ran == []


def test_anonymous_requests_to_signed_in_routes_go_to_sign_in(app, anonymous, objects):
    before = snapshot(app)
    walked = []
    for mark in ROLES:
        for rule, method in rules_by_access(app).get(mark, []):
            path = path_of(rule, objects)
            walked.append((rule.rule, method))

            response = anonymous.open(path, method=method)
            assert response.status_code == 302, (method, path, response.status_code)
            assert response.location.startswith("/sign-in?"), (method, path)
            assert back_to(response.location) == path
            assert SECRET_NAME not in response.get_data(as_text=True)

            swap = anonymous.open(path, method=method, headers=HTMX)
            assert swap.status_code == 401, (method, path, swap.status_code)
            assert swap.headers["HX-Redirect"].startswith("/sign-in?"), (method, path)
            assert back_to(swap.headers["HX-Redirect"]) == path
            assert swap.get_data(as_text=True) == ""
    assert ("/admin/users/<int:user_id>/active", "POST") in walked
    assert ("/campaigns/<int:campaign_id>/report.<extension>", "GET") in walked
    assert len(walked) == sum(len(rules_by_access(app)[mark]) for mark in ROLES)
    assert snapshot(app) == before


def test_the_walked_urls_are_real_pages_for_an_admin(app, client, objects):
    """The walk above is meaningful: its URLs name objects that exist."""
    for mark in ROLES:
        for rule, method in rules_by_access(app).get(mark, []):
            if method == "GET":
                path = path_of(rule, objects)
                response = client.get(path)
                assert response.status_code == 200, path
                response.close()


def test_anonymous_calls_to_the_api_and_callbacks_are_refused(app, anonymous, objects):
    before = snapshot(app)
    for rule, method in rules_by_access(app)[access.TOKEN]:
        response = anonymous.open(path_of(rule, objects), method=method, json={})
        assert response.status_code == 401, rule.rule
        assert "API token" in response.json["error"]
    for rule, method in rules_by_access(app)[access.SIGNATURE]:
        response = anonymous.open(path_of(rule, objects), method=method,
                                  data={"MessageSid": "SM" + "0" * 32,
                                        "MessageStatus": "delivered"})
        assert response.status_code == 403 and response.json["outcome"] == "refused"
    assert snapshot(app) == before


def test_sign_in_first_then_land_on_the_page_asked_for(app, anonymous, make_campaign,
                                                        make_user):
    campaign_id = make_campaign("Clinic reminders", [("+6581234567", "delivered", None)])
    make_user("reader@example.gov")
    asked = anonymous.get(f"/campaigns/{campaign_id}?tab=errors")
    assert asked.location == f"/sign-in?next=/campaigns/{campaign_id}?tab%3Derrors"
    form = page(anonymous.get(asked.location)).find("form")
    next_field = form.find("input", attrs={"name": "next"})["value"]
    assert next_field == f"/campaigns/{campaign_id}?tab=errors"
    signed = anonymous.post("/sign-in", data={"email": "reader@example.gov",
                                              "password": PASSWORD, "next": next_field})
    assert signed.location == f"/campaigns/{campaign_id}?tab=errors"
    assert text(page(anonymous.get(signed.location)).find("h1")) == "Clinic reminders"


# Another team's campaigns are as invisible as missing ones

@pytest.fixture
def other_team(app, make_campaign, api_token):
    """Team Parks: a campaign with phone numbers, a finished sync of it, and a token."""
    campaign_id = make_campaign(SECRET_NAME, SECRET_MESSAGES, team=OTHER_TEAM)
    job_id = add_job(app, campaign_id)
    return {"campaign_id": campaign_id, "job_id": job_id, "token": api_token(OTHER_TEAM)}


def assert_hidden(response, campaign_id):
    assert response.status_code == 404, response.status_code
    body = response.get_data(as_text=True)
    assert SECRET_NAME not in body
    assert OTHER_TEAM not in body
    for number in SECRET_NUMBERS:
        assert number not in body and number[3:] not in body
    return body


def same_as_missing(hidden_body, missing_body, campaign_id):
    """The 404 of a missing campaign, written with the hidden campaign's id instead."""
    assert str(MISSING) in missing_body
    assert without_csrf_tokens(hidden_body) == \
        without_csrf_tokens(missing_body.replace(str(MISSING), str(campaign_id)))


@pytest.mark.parametrize("suffix, headers", [
    ("", {}), ("", HTMX), ("/stats", {}), ("/stats", HTMX),
] + [(f"/report.{extension}{query}", {}) for extension in FORMATS
     for query in ("", "?only=errors")] + [
    ("/report.pdf", {}), ("/report.csv?only=everything", {}),
])
def test_another_teams_campaign_reads_as_missing(client_as, other_team, suffix, headers):
    viewer = client_as("viewer", "Ops")
    campaign_id = other_team["campaign_id"]
    hidden = viewer.get(f"/campaigns/{campaign_id}{suffix}", headers=headers)
    missing = viewer.get(f"/campaigns/{MISSING}{suffix}", headers=headers)
    body = assert_hidden(hidden, campaign_id)
    assert missing.status_code == 404
    same_as_missing(body, missing.get_data(as_text=True), campaign_id)
    assert f"There is no campaign {campaign_id}." in text(page(hidden))


def test_another_teams_report_download_is_not_audited(app, client_as, other_team):
    viewer = client_as("viewer", "Ops")
    for extension in FORMATS:
        viewer.get(f"/campaigns/{other_team['campaign_id']}/report.{extension}").get_data()
    assert count(app, AuditEvent, AuditEvent.action == "report.download") == 0


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_another_teams_campaign_cannot_be_synced(app, client_as, other_team, inline,
                                                 headers):
    manager = client_as("manager", "Ops")
    campaign_id = other_team["campaign_id"]
    jobs_before = snapshot(app)["jobs"]
    hidden = manager.post(f"/campaigns/{campaign_id}/sync", headers=headers)
    missing = manager.post(f"/campaigns/{MISSING}/sync", headers=headers)
    same_as_missing(assert_hidden(hidden, campaign_id), missing.get_data(as_text=True),
                    campaign_id)
    assert snapshot(app)["jobs"] == jobs_before


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_another_teams_sync_job_reads_as_missing(client_as, other_team, headers):
    viewer = client_as("viewer", "Ops")
    campaign_id, job_id = other_team["campaign_id"], other_team["job_id"]
    hidden = viewer.get(f"/campaigns/{campaign_id}/sync/{job_id}", headers=headers)
    missing = viewer.get(f"/campaigns/{MISSING}/sync/{job_id}", headers=headers)
    same_as_missing(assert_hidden(hidden, campaign_id), missing.get_data(as_text=True),
                    campaign_id)


def test_another_teams_campaign_through_the_api_reads_as_missing(app, anonymous, api_token,
                                                                 other_team):
    token = api_token("Ops")
    campaign_id = other_team["campaign_id"]
    for path in (f"/api/campaigns/{campaign_id}/stats",):
        hidden = anonymous.get(path, headers=bearer(token))
        missing = anonymous.get(path.replace(str(campaign_id), str(MISSING)),
                                headers=bearer(token))
        assert assert_hidden(hidden, campaign_id)
        assert hidden.json == {"error": f"there is no campaign {campaign_id}"}
        assert missing.json == {"error": f"there is no campaign {MISSING}"}

    messages_before = count(app, Message)
    batch = {"messages": [{"recipient": "+6581234500", "provider_message_id": "SM" + "f" * 32}]}
    hidden = anonymous.post(f"/api/campaigns/{campaign_id}/messages", json=batch,
                            headers=bearer(token))
    assert_hidden(hidden, campaign_id)
    assert hidden.json == {"error": f"there is no campaign {campaign_id}"}
    assert count(app, Message) == messages_before

    listed = anonymous.get("/api/campaigns", headers=bearer(token)).json["campaigns"]
    assert listed == []
    own = anonymous.get("/api/campaigns", headers=bearer(other_team["token"])).json
    assert [c["name"] for c in own["campaigns"]] == [SECRET_NAME]


def dashboard_names(response):
    return [text(row.find("td")) for row in page(response).select("#campaign-table tbody tr")]


def test_the_dashboard_lists_only_the_teams_campaigns(client_as, make_campaign, other_team):
    make_campaign("Ops flood warning", [("+6581234567", "delivered", None)])
    viewer = client_as("viewer", "Ops")
    assert dashboard_names(viewer.get("/")) == ["Ops flood warning"]
    assert dashboard_names(viewer.get("/", headers=HTMX)) == ["Ops flood warning"]
    searched = viewer.get("/?q=secret")
    assert SECRET_NAME not in searched.get_data(as_text=True)
    assert dashboard_names(searched) == []
    parks = client_as("viewer", OTHER_TEAM)
    assert dashboard_names(parks.get("/")) == [SECRET_NAME]


def test_an_admin_sees_every_teams_campaigns(client, make_campaign, other_team):
    make_campaign("Ops flood warning", [("+6581234567", "delivered", None)])
    assert sorted(dashboard_names(client.get("/"))) == ["Ops flood warning", SECRET_NAME]
    document = page(client.get(f"/campaigns/{other_team['campaign_id']}"))
    assert text(document.find("h1")) == SECRET_NAME
    report = client.get(f"/campaigns/{other_team['campaign_id']}/report.csv").get_data()
    assert SECRET_NUMBERS[0].encode() in report


# Viewer, manager, admin

@pytest.fixture
def own_campaign(make_campaign):
    return make_campaign("Clinic reminders", [("+6581234567", "delivered", None),
                                              ("+6591234567", "undelivered", "30003")])


def refused(response, needed):
    assert response.status_code == 403, response.status_code
    assert needed in text(page(response))


def test_a_viewer_reads_pages_and_downloads_reports(client_as, own_campaign):
    viewer = client_as("viewer", "Ops")
    document = page(viewer.get(f"/campaigns/{own_campaign}"))
    assert text(document.find("h1")) == "Clinic reminders"
    assert viewer.get(f"/campaigns/{own_campaign}/stats", headers=HTMX).status_code == 200
    assert text(page(viewer.get("/guide")).find("h1"))
    for extension in FORMATS:
        report = viewer.get(f"/campaigns/{own_campaign}/report.{extension}?only=errors")
        assert report.status_code == 200
        assert "attachment" in report.headers["Content-Disposition"]
        assert report.get_data()


def test_a_viewer_cannot_import_sync_or_make_tokens(app, client_as, own_campaign, inline):
    viewer = client_as("viewer", "Ops")
    before = snapshot(app)
    refused(viewer.get("/campaigns/new"), NEEDS_MANAGER)
    refused(viewer.post("/campaigns/new", data=csv_upload("Sneaky", team_id(app, "Ops"),
                                                          "+6581234000"),
                        content_type="multipart/form-data"), NEEDS_MANAGER)
    refused(viewer.post(f"/campaigns/{own_campaign}/sync"), NEEDS_MANAGER)
    refused(viewer.get("/tokens"), NEEDS_MANAGER)
    refused(viewer.post("/tokens", data={"name": "mine", "team": team_id(app, "Ops")}),
            NEEDS_MANAGER)
    assert "you are signed in as a viewer" in text(page(viewer.get("/tokens")))
    assert snapshot(app) == before


@pytest.mark.parametrize("role", ["viewer", "manager"])
def test_only_admins_reach_admin_pages(app, client_as, role, make_user):
    person = client_as(role, "Ops")
    user_id = make_user("other@example.gov")
    before = snapshot(app)
    for path in ADMIN_PAGES:
        refused(person.get(path), NEEDS_ADMIN)
    refused(person.post("/admin/teams", data={"name": "Rogue"}), NEEDS_ADMIN)
    refused(person.post("/admin/users", data={
        "email": "rogue@example.gov", "team": team_id(app, "Ops"), "role": "admin",
        "password": "long enough password"}), NEEDS_ADMIN)
    refused(person.post(f"/admin/users/{user_id}/active", data={"active": "0"}), NEEDS_ADMIN)
    assert snapshot(app) == before


def nav_links(document):
    return [text(link) for link in document.select("header nav a")]


def test_a_viewer_sees_no_manager_or_admin_actions(client_as, own_campaign):
    viewer = client_as("viewer", "Ops")
    campaign = page(viewer.get(f"/campaigns/{own_campaign}"))
    assert campaign.select_one("section.sync") is None
    assert campaign.find("form", action=f"/campaigns/{own_campaign}/sync") is None
    dashboard = page(viewer.get("/"))
    assert dashboard.find("a", string="Import a campaign") is None
    assert dashboard.find("a", href="/campaigns/new") is None
    assert nav_links(dashboard) == ["Campaigns", "Status guide"]


def test_a_manager_sees_manager_actions_but_no_admin_links(client_as, own_campaign):
    manager = client_as("manager", "Ops")
    campaign = page(manager.get(f"/campaigns/{own_campaign}"))
    assert campaign.find("form", action=f"/campaigns/{own_campaign}/sync") is not None
    dashboard = page(manager.get("/"))
    assert dashboard.find("a", string="Import a campaign")["href"] == "/campaigns/new"
    assert nav_links(dashboard) == ["Campaigns", "Status guide", "API tokens"]


def test_an_admin_sees_every_link(client, own_campaign):
    assert nav_links(page(client.get("/"))) == [
        "Campaigns", "Status guide", "API tokens", "Users", "Teams", "Audit log", "Plugins"]


def test_a_manager_imports_for_their_own_team_only(app, client_as, make_campaign):
    make_campaign("Parks old", [], team=OTHER_TEAM)
    manager = client_as("manager", "Ops")
    form = page(manager.get("/campaigns/new"))
    assert [text(option) for option in form.select("#team option")] == ["Ops"]

    elsewhere = manager.post("/campaigns/new", data=csv_upload(
        "For Parks", team_id(app, OTHER_TEAM), "+6581234001"),
        content_type="multipart/form-data")
    assert elsewhere.status_code == 400
    assert "Choose the team the campaign belongs to." in text(page(elsewhere))
    assert count(app, Campaign, Campaign.name == "For Parks") == 0

    own = manager.post("/campaigns/new", data=csv_upload(
        "For Ops", team_id(app, "Ops"), "+6581234001"), content_type="multipart/form-data")
    assert own.status_code == 303
    assert text(page(manager.get(own.location)).find("h1")) == "For Ops"
    with app.app_context():
        made = db.session.execute(sa.select(Campaign).where(Campaign.name == "For Ops")).scalar()
        assert made.team.name == "Ops"


def test_a_manager_syncs_their_teams_campaign(app, client_as, own_campaign, inline):
    manager = client_as("manager", "Ops")
    response = manager.post(f"/campaigns/{own_campaign}/sync")
    assert response.status_code == 303
    assert response.location == f"/campaigns/{own_campaign}#sync"
    with app.app_context():
        job = db.session.execute(sa.select(Job)).scalar_one()
        assert (job.campaign_id, job.state) == (own_campaign, "done")


def test_a_manager_makes_and_revokes_tokens_of_their_own_team(app, anonymous, client_as):
    manager = client_as("manager", "Ops")
    tokens_page = page(manager.get("/tokens"))
    assert [text(option) for option in tokens_page.select("#team option")] == ["Ops"]

    made = manager.post("/tokens", data={"name": "sender", "team": team_id(app, "Ops")})
    assert made.status_code == 201
    token = text(page(made).select_one("#new-token"))
    assert anonymous.get("/api/campaigns", headers=bearer(token)).status_code == 200
    row = token_row(app, "sender")
    assert row.team == "Ops"

    revoked = manager.post(f"/tokens/{row.id}/revoke")
    assert revoked.status_code == 200
    assert "revoked" in text(page(revoked).select_one(f"tr[data-token='{row.id}']"))
    assert anonymous.get("/api/campaigns", headers=bearer(token)).status_code == 401


def test_a_manager_cannot_make_or_revoke_another_teams_tokens(app, anonymous, client_as,
                                                              api_token):
    parks_token = api_token(OTHER_TEAM)
    parks_row = token_row(app, "tests")
    manager = client_as("manager", "Ops")
    assert page(manager.get("/tokens")).select_one(f"tr[data-token='{parks_row.id}']") is None

    tokens_before = count(app, ApiToken)
    made = manager.post("/tokens", data={"name": "intruder", "team": team_id(app, OTHER_TEAM)})
    assert made.status_code == 400
    assert "Choose your team." in text(page(made))
    assert page(made).select_one("#new-token") is None
    assert count(app, ApiToken) == tokens_before

    revoked = manager.post(f"/tokens/{parks_row.id}/revoke")
    assert revoked.status_code == 404
    assert f"There is no token {parks_row.id}." in text(page(revoked))
    missing = manager.post(f"/tokens/{MISSING}/revoke")
    assert without_csrf_tokens(revoked.get_data(as_text=True)) == without_csrf_tokens(
        missing.get_data(as_text=True).replace(str(MISSING), str(parks_row.id)))
    assert token_row(app, "tests").revoked_at is None
    assert anonymous.get("/api/campaigns", headers=bearer(parks_token)).status_code == 200


def test_an_admin_reaches_every_page_and_action(app, client, anonymous, make_campaign, inline):
    parks_campaign = make_campaign(SECRET_NAME, SECRET_MESSAGES, team=OTHER_TEAM)
    for path in ADMIN_PAGES + ("/tokens", "/campaigns/new", "/guide", "/"):
        assert client.get(path).status_code == 200, path

    made = client.post("/tokens", data={"name": "parks sender",
                                        "team": team_id(app, OTHER_TEAM)})
    assert made.status_code == 201
    token = text(page(made).select_one("#new-token"))
    listed = anonymous.get("/api/campaigns", headers=bearer(token)).json["campaigns"]
    assert [c["name"] for c in listed] == [SECRET_NAME]
    row = token_row(app, "parks sender")
    assert client.post(f"/tokens/{row.id}/revoke").status_code == 200
    assert token_row(app, "parks sender").revoked_at is not None

    imported = client.post("/campaigns/new", data=csv_upload(
        "Parks import", team_id(app, OTHER_TEAM), "+6581234002"),
        content_type="multipart/form-data")
    assert imported.status_code == 303
    assert client.post(f"/campaigns/{parks_campaign}/sync").status_code == 303

    assert client.post("/admin/teams", data={"name": "Roads"}).status_code == 303
    assert count(app, Team, Team.name == "Roads") == 1
    created = client.post("/admin/users", data={
        "email": "new.manager@example.gov", "team": team_id(app, "Roads"), "role": "manager",
        "password": "a long first password"})
    assert created.status_code == 303
    with app.app_context():
        user = db.session.execute(sa.select(User).where(
            User.email == "new.manager@example.gov")).scalar_one()
        assert (user.role, user.team.name, user.active) == ("manager", "Roads", True)
        user_id = user.id
    assert client.post(f"/admin/users/{user_id}/active", data={"active": "0"}).status_code == 303
    assert count(app, User, User.id == user_id, User.active.is_(False)) == 1


@pytest.mark.parametrize("suffix", ["", "/stats", "/report.csv", "/sync/1"])
def test_an_id_too_large_for_the_database_reads_as_missing(app, client_as, suffix):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production, not raise
    viewer = client_as("viewer", "Ops")
    huge = 10 ** 20
    response = viewer.get(f"/campaigns/{huge}{suffix}")
    assert response.status_code == 404
    assert f"There is no campaign {huge}." in text(page(response))


def test_an_id_too_large_for_the_database_reads_as_missing_in_the_api(app, anonymous,
                                                                      api_token):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    huge = 10 ** 20
    response = anonymous.get(f"/api/campaigns/{huge}/stats", headers=bearer(api_token()))
    assert response.status_code == 404
    assert response.json == {"error": f"there is no campaign {huge}"}


@pytest.mark.parametrize("path, missing", [
    ("/tokens/{}/revoke", "There is no token {}."),
    ("/admin/users/{}/active", "There is no user {}."),
])
def test_an_id_too_large_for_the_database_is_a_404_on_tokens_and_users(app, client, path,
                                                                       missing):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    huge = 10 ** 20
    response = client.post(path.format(huge), data={"active": "0"})
    assert response.status_code == 404
    assert missing.format(huge) in text(page(response))


@pytest.mark.parametrize("value", [
    "", "abc", "-1", "1.0", str(MISSING),
    "²",
    "9" * 20,
])
def test_a_team_field_naming_no_team_is_refused_on_every_form(app, client, value):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production, not raise
    before = snapshot(app)
    token = client.post("/tokens", data={"name": "sender", "team": value})
    assert token.status_code == 400 and "Choose your team." in text(page(token))
    user = client.post("/admin/users", data={"email": "new@example.gov", "team": value,
                                             "role": "viewer",
                                             "password": "a long first password"})
    assert user.status_code == 400 and "Choose the user's team." in text(page(user))
    upload = client.post("/campaigns/new", data=csv_upload("Any", value, "+6581234003"),
                         content_type="multipart/form-data")
    assert upload.status_code == 400
    assert "Choose the team the campaign belongs to." in text(page(upload))
    assert snapshot(app) == before
