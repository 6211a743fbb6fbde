"""Signing in and out through the real form, the sign-in throttle, idle sessions and their
cookie, CSRF protection of every form and HTMX request, security headers, and pages that
hold no inline code the Content-Security-Policy would block."""

import json
from datetime import timedelta
from urllib.parse import urljoin
from urllib.parse import urlsplit

import itsdangerous.timed
import pytest
import sqlalchemy as sa

from portal import throttle
from portal.db import db
from portal.db import utcnow
from portal.models import ApiToken
from portal.models import Campaign
from portal.models import Job
from portal.models import SignInFailure
from portal.models import Team
from portal.models import User
from portal.views import auth
from tests.conftest import HTMX
from tests.conftest import PASSWORD
from tests.conftest import add_user
from tests.conftest import count
from tests.conftest import page
from tests.conftest import text

EMAIL = "reader@example.gov"
NOTHING_CHANGED = "Nothing was changed: reload the page and try again."


def sign_in(client, email=EMAIL, password=PASSWORD, next_="", address="127.0.0.1"):
    return client.post("/sign-in", data={"email": email, "password": password, "next": next_},
                       environ_base={"REMOTE_ADDR": address})


def alert(response):
    found = page(response).select_one("[role=alert]")
    return text(found) if found else None


def signed_in_as(client):
    """The email the portal shows as signed in, or None when it asks to sign in."""
    response = client.get("/")
    if response.status_code == 302:
        assert response.location.startswith("/sign-in")
        return None
    assert response.status_code == 200
    return text(page(response).select_one("form.who span")).split(" · ")[0]



@pytest.fixture
def reader(make_user):
    return make_user(EMAIL)


# Signing in and out

def test_the_right_password_signs_in_and_goes_to_next(anonymous, reader):
    response = sign_in(anonymous, next_="/guide?provider=twilio")
    assert response.status_code == 302
    assert response.location == "/guide?provider=twilio"
    assert signed_in_as(anonymous) == EMAIL


def test_without_next_sign_in_goes_to_the_dashboard(anonymous, reader):
    assert sign_in(anonymous).location == "/"
    assert page(anonymous.get("/sign-in", follow_redirects=True)).find("h1").get_text() == \
        "Campaigns"


def as_a_browser_reads_it(location):
    """The host a browser goes to for this Location: it reads a backslash as a slash."""
    return urlsplit(urljoin("http://localhost/sign-in", location.replace("\\", "/"))).netloc


@pytest.mark.parametrize("target", [
    "https://evil.example/sign-in", "//evil.example/sign-in", "http:evil.example",
    "javascript:alert(1)", "evil.example", "\\\\evil.example", "/\\evil.example/sign-in",
    "/\t/evil.example",
])
def test_next_never_leads_to_another_site(anonymous, reader, target):
    response = sign_in(anonymous, next_=target)
    assert response.status_code == 302
    assert as_a_browser_reads_it(response.location) == "localhost"
    if not target.startswith("/\\"):
        assert response.location == "/"
    assert signed_in_as(anonymous) == EMAIL


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(anonymous, reader):
    wrong = sign_in(anonymous, password="not the password at all")
    unknown = sign_in(anonymous, email="nobody@example.gov")
    assert wrong.status_code == unknown.status_code == 401
    assert alert(wrong) == alert(unknown) == auth.WRONG
    assert signed_in_as(anonymous) is None


def test_a_disabled_user_cannot_sign_in(app, anonymous, reader):
    with app.app_context():
        db.session.get(User, reader).active = False
        db.session.commit()
    response = sign_in(anonymous)
    assert response.status_code == 401 and alert(response) == auth.WRONG
    assert signed_in_as(anonymous) is None


def test_disabling_a_user_ends_their_session(client, anonymous, reader):
    assert sign_in(anonymous).status_code == 302
    assert signed_in_as(anonymous) == EMAIL
    assert client.post(f"/admin/users/{reader}/active", data={"active": "0"}).status_code == 303
    assert signed_in_as(anonymous) is None


def test_sign_out_ends_the_session(anonymous, reader):
    sign_in(anonymous)
    response = anonymous.post("/sign-out")
    assert response.status_code == 302 and response.location == "/sign-in"
    assert signed_in_as(anonymous) is None
    assert anonymous.get("/guide").location == "/sign-in?next=/guide"


def test_sign_out_is_not_a_link(anonymous, reader):
    sign_in(anonymous)
    assert anonymous.get("/sign-out").status_code == 405
    assert signed_in_as(anonymous) == EMAIL


def test_signing_in_again_when_signed_in_goes_to_the_dashboard(anonymous, reader):
    sign_in(anonymous)
    assert anonymous.get("/sign-in").location == "/"


# The throttle

def test_five_wrong_passwords_block_the_account_even_with_the_right_one(anonymous, reader):
    for _ in range(throttle.PER_ACCOUNT):
        assert sign_in(anonymous, password="wrong password, again").status_code == 401
    response = sign_in(anonymous)
    assert response.status_code == 429
    assert alert(response) == auth.TOO_MANY
    assert alert(response).startswith("Too many attempts")
    assert signed_in_as(anonymous) is None


def test_an_unknown_email_is_throttled_the_same_way(anonymous, reader):
    for email in (EMAIL, "nobody@example.gov"):
        for _ in range(throttle.PER_ACCOUNT):
            sign_in(anonymous, email=email, password="wrong password, again")
    known = sign_in(anonymous)
    unknown = sign_in(anonymous, email="nobody@example.gov")
    assert known.status_code == unknown.status_code == 429
    assert alert(known) == alert(unknown) == auth.TOO_MANY


def test_the_account_is_throttled_from_any_address(anonymous, reader):
    for n in range(throttle.PER_ACCOUNT):
        sign_in(anonymous, password="wrong password, again", address=f"10.0.0.{n + 1}")
    assert sign_in(anonymous, address="10.9.9.9").status_code == 429


def test_the_email_is_throttled_whatever_its_case_or_spaces(anonymous, reader):
    for n in range(throttle.PER_ACCOUNT):
        sign_in(anonymous, email=f"  {EMAIL.upper() if n % 2 else EMAIL} ",
                password="wrong password, again")
    assert sign_in(anonymous).status_code == 429


def test_twenty_failures_from_one_address_block_that_address(anonymous, reader):
    for n in range(throttle.PER_ADDRESS):
        response = sign_in(anonymous, email=f"guess{n}@example.gov", address="10.1.1.1")
        assert response.status_code == 401
    blocked = sign_in(anonymous, address="10.1.1.1")
    assert blocked.status_code == 429 and alert(blocked) == auth.TOO_MANY
    assert signed_in_as(anonymous) is None
    # The account itself is not blocked: from elsewhere it signs in.
    assert sign_in(anonymous, address="10.2.2.2").status_code == 302
    assert signed_in_as(anonymous) == EMAIL


def test_a_throttled_attempt_is_not_counted_again(app, anonymous, reader):
    for _ in range(throttle.PER_ACCOUNT):
        sign_in(anonymous, password="wrong password, again")
    for _ in range(3):
        assert sign_in(anonymous).status_code == 429
    assert count(app, SignInFailure) == throttle.PER_ACCOUNT


def test_failures_older_than_the_window_no_longer_count(app, anonymous, reader):
    for _ in range(throttle.PER_ACCOUNT):
        sign_in(anonymous, password="wrong password, again")
    assert sign_in(anonymous).status_code == 429
    with app.app_context():
        db.session.execute(sa.update(SignInFailure).values(
            at=utcnow() - throttle.WINDOW - timedelta(minutes=1)))
        db.session.commit()
    assert sign_in(anonymous).status_code == 302
    assert signed_in_as(anonymous) == EMAIL


def test_failures_inside_the_window_still_count(app, anonymous, reader):
    for _ in range(throttle.PER_ACCOUNT):
        sign_in(anonymous, password="wrong password, again")
    with app.app_context():
        db.session.execute(sa.update(SignInFailure).values(
            at=utcnow() - throttle.WINDOW + timedelta(minutes=1)))
        db.session.commit()
    assert sign_in(anonymous).status_code == 429


def test_signing_in_clears_the_accounts_failures(anonymous, reader):
    for _ in range(throttle.PER_ACCOUNT - 1):
        sign_in(anonymous, password="wrong password, again")
    assert sign_in(anonymous).status_code == 302
    anonymous.post("/sign-out")
    for _ in range(throttle.PER_ACCOUNT - 1):
        sign_in(anonymous, password="wrong password, again")
    assert sign_in(anonymous).status_code == 302


# Sessions and their cookie

@pytest.fixture
def clock(monkeypatch):
    """clock(minutes): from now on, session cookies are signed and checked as if that many
    minutes had passed. Nothing sleeps."""
    real = itsdangerous.timed.TimestampSigner.get_timestamp
    offset = {"seconds": 0}
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp",
                        lambda self: real(self) + offset["seconds"])

    def move_to(minutes):
        offset["seconds"] = int(minutes * 60)

    return move_to


def test_a_session_idle_longer_than_the_setting_must_sign_in_again(app, anonymous, reader,
                                                                   clock):
    idle = app.config["PORTAL_SESSION_IDLE_MINUTES"]
    assert app.permanent_session_lifetime == timedelta(minutes=idle)
    sign_in(anonymous)
    clock(idle + 1)
    response = anonymous.get("/guide")
    assert response.status_code == 302
    assert response.location == "/sign-in?next=/guide"
    assert anonymous.get("/guide", headers=HTMX).headers["HX-Redirect"] == \
        "/sign-in?next=/guide"


def test_each_request_restarts_the_idle_time(app, anonymous, reader, clock):
    idle = app.config["PORTAL_SESSION_IDLE_MINUTES"]
    sign_in(anonymous)
    assert signed_in_as(anonymous) == EMAIL
    for step in range(1, 4):
        clock(step * (idle - 1))
        assert signed_in_as(anonymous) == EMAIL, f"after {step * (idle - 1)} minutes"
    clock(3 * (idle - 1) + idle + 1)
    assert signed_in_as(anonymous) is None


@pytest.fixture
def app_with(make_app, password_hash):
    """app_with(**settings) → an app on this test's database with settings changed, and
    the user EMAIL in it."""

    def make(**overrides):
        new = make_app(**overrides)
        add_user(new, password_hash, EMAIL)
        return new

    return make


def test_the_idle_time_comes_from_the_setting(app_with, clock):
    app = app_with(PORTAL_SESSION_IDLE_MINUTES=5)
    client = app.test_client()
    sign_in(client)
    clock(4)
    assert signed_in_as(client) == EMAIL
    clock(4 + 6)
    assert signed_in_as(client) is None


def session_cookie(response):
    [cookie] = [value for value in response.headers.getlist("Set-Cookie")
                if value.startswith("session=")]
    return [part.strip() for part in cookie.split(";")]


def test_the_session_cookie_is_http_only_and_same_site(anonymous, reader):
    response = sign_in(anonymous)
    attributes = session_cookie(response)
    assert "HttpOnly" in attributes
    assert "SameSite=Lax" in attributes
    assert "Secure" not in attributes  # the portal is not on https here
    assert any(part.startswith("Expires=") for part in attributes)
    assert [value for value in response.headers.getlist("Set-Cookie")
            if value.startswith("remember_token")] == []


def test_the_session_cookie_is_secure_behind_https(app_with):
    app = app_with(PORTAL_PUBLIC_URL="https://sms.example.gov")
    attributes = session_cookie(sign_in(app.test_client()))
    assert "Secure" in attributes and "HttpOnly" in attributes and "SameSite=Lax" in attributes


# CSRF

@pytest.fixture
def csrf(app):
    app.config["WTF_CSRF_ENABLED"] = True


def form_token(response):
    return page(response).find("input", attrs={"name": "csrf_token"})["value"]


def htmx_token(response):
    return json.loads(page(response).body["hx-headers"])["X-CSRFToken"]


def refused_as_forged(response):
    assert response.status_code == 400
    assert NOTHING_CHANGED in text(page(response))


def test_a_form_without_its_token_changes_nothing(app, client, csrf):
    teams = count(app, Team)
    refused_as_forged(client.post("/admin/teams", data={"name": "Forged"}))
    assert count(app, Team) == teams
    token = form_token(client.get("/admin/teams"))
    refused_as_forged(client.post("/admin/teams", data={"name": "Forged",
                                                        "csrf_token": "forged" + token}))
    assert count(app, Team, Team.name == "Forged") == 0

    made = client.post("/admin/teams", data={"name": "Roads", "csrf_token": token})
    assert made.status_code == 303
    assert count(app, Team, Team.name == "Roads") == 1


def test_a_token_form_without_its_token_makes_no_token(app, client, csrf):
    with app.app_context():
        ops = db.session.execute(sa.select(Team.id).where(Team.name == "Ops")).scalar_one()
    refused_as_forged(client.post("/tokens", data={"name": "forged", "team": ops}))
    assert count(app, ApiToken) == 0
    token = form_token(client.get("/tokens"))
    made = client.post("/tokens", data={"name": "sender", "team": ops, "csrf_token": token})
    assert made.status_code == 201 and page(made).select_one("#new-token")
    assert count(app, ApiToken) == 1


def test_the_sync_needs_its_token_as_a_form_and_as_htmx(app, client, csrf, make_campaign):
    app.config["PORTAL_RUN_IN_BACKGROUND"] = False
    campaign_id = make_campaign("Clinic reminders", [("+6581234567", "queued", None)])
    campaign_page = client.get(f"/campaigns/{campaign_id}")

    refused_as_forged(client.post(f"/campaigns/{campaign_id}/sync"))
    refused_as_forged(client.post(f"/campaigns/{campaign_id}/sync", headers=HTMX))
    assert count(app, Job) == 0

    form = page(campaign_page).find("form", action=f"/campaigns/{campaign_id}/sync")
    token = form.find("input", attrs={"name": "csrf_token"})["value"]
    posted = client.post(f"/campaigns/{campaign_id}/sync", data={"csrf_token": token})
    assert posted.status_code == 303
    assert count(app, Job) == 1

    header = {**HTMX, "X-CSRFToken": htmx_token(campaign_page)}
    swapped = client.post(f"/campaigns/{campaign_id}/sync", headers=header)
    assert swapped.status_code == 200
    assert page(swapped).select_one("#sync-progress")["data-job-state"] == "done"
    assert count(app, Job) == 2


def test_sign_out_needs_its_token(client, csrf):
    dashboard = client.get("/")
    refused_as_forged(client.post("/sign-out"))
    assert signed_in_as(client) == "admin.ops@example.gov"
    sign_out = page(dashboard).find("form", action="/sign-out")
    token = sign_out.find("input", attrs={"name": "csrf_token"})["value"]
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 302
    assert signed_in_as(client) is None


def test_sign_in_needs_the_token_of_its_page(anonymous, reader, csrf):
    refused_as_forged(sign_in(anonymous))
    assert signed_in_as(anonymous) is None
    token = form_token(anonymous.get("/sign-in"))
    response = anonymous.post("/sign-in", data={"email": EMAIL, "password": PASSWORD,
                                                "csrf_token": token})
    assert response.status_code == 302
    assert signed_in_as(anonymous) == EMAIL


def test_the_api_and_provider_callbacks_need_no_csrf_token(app, anonymous, api_token, csrf,
                                                          twilio_callback):
    token = api_token()
    created = anonymous.post("/api/campaigns", headers={"Authorization": f"Bearer {token}"},
                             json={"name": "Flood warning", "provider": "twilio"})
    assert created.status_code == 201
    assert count(app, Campaign, Campaign.name == "Flood warning") == 1
    answer = twilio_callback("SM" + "a" * 32, "delivered")
    assert answer.status_code == 200 and answer.json["outcome"] == "pending"


# Security headers

def csp(response):
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return policy, directives


def assert_security_headers(response):
    policy, directives = csp(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer",
                                                   "strict-origin-when-cross-origin")
    assert response.headers["X-Frame-Options"] == "DENY"


def test_security_headers_on_pages_errors_and_downloads(app, client, client_as, anonymous,
                                                        make_campaign, api_token, csrf):
    app.add_url_rule("/unmarked", "unmarked", lambda: "open")
    campaign_id = make_campaign("Clinic reminders", [("+6581234567", "delivered", None)])
    viewer = client_as("viewer", "Ops")
    responses = {
        "dashboard": client.get("/"),
        "campaign": client.get(f"/campaigns/{campaign_id}"),
        "partial": client.get(f"/campaigns/{campaign_id}/stats", headers=HTMX),
        "report": client.get(f"/campaigns/{campaign_id}/report.csv"),
        "sign-in": anonymous.get("/sign-in"),
        "redirect": anonymous.get("/"),
        "htmx redirect": anonymous.get("/", headers=HTMX),
        "404": client.get("/campaigns/987654"),
        "unknown page": client.get("/no/such/page"),
        "403": viewer.get("/admin/users"),
        "405": client.get("/sign-out"),
        "csrf 400": client.post("/admin/teams", data={"name": "Forged"}),
        "500": client.get("/unmarked"),
        "api": anonymous.get("/api/campaigns",
                             headers={"Authorization": f"Bearer {api_token()}"}),
        "api 401": anonymous.get("/api/campaigns"),
        "health": anonymous.get("/healthz"),
    }
    assert responses["500"].status_code == 500 and responses["csrf 400"].status_code == 400
    for name, response in responses.items():
        response.get_data()
        try:
            assert_security_headers(response)
        except (AssertionError, KeyError) as error:
            raise AssertionError(f"{name}: {error!r}") from error


def inline_code(document):
    """Everything in the page a CSP without 'unsafe-inline' would block."""
    found = []
    for tag in document.find_all(True):
        if tag.name == "script" and not tag.get("src"):
            found.append(f"inline <script>: {tag}"[:120])
        if tag.name == "style":
            found.append(f"<style> element: {tag}"[:120])
        for name, value in tag.attrs.items():
            if name.startswith(("on", "hx-on")) or name == "style":
                found.append(f"{name} attribute on <{tag.name}>")
            if name in ("href", "src", "action", "formaction") and \
                    str(value).strip().lower().startswith("javascript:"):
                found.append(f"javascript: URL on <{tag.name}>")
    return found


def test_no_page_holds_inline_code(app, client, anonymous, make_campaign, api_token, csrf):
    campaign_id = make_campaign("Clinic reminders", [
        ("+6581234567", "delivered", None), ("+6581110000", "undelivered", "30003"),
        ("+65 1234", None, None), ("+6581110004", "queued", None)])
    with app.app_context():
        job = Job(kind="sync", campaign_id=campaign_id, state="running", total=3, done=1,
                  message="Asking Twilio")
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    api_token()
    client.get("/admin/users").get_data()
    client.get(f"/campaigns/{campaign_id}/report.csv").get_data()  # an audit row to show
    with app.app_context():
        ops = db.session.execute(sa.select(Team.id).where(Team.name == "Ops")).scalar_one()
    token = form_token(client.get("/tokens"))
    pages = {
        "dashboard": client.get("/"),
        "dashboard table": client.get("/?q=clinic", headers=HTMX),
        "campaign": client.get(f"/campaigns/{campaign_id}"),
        "campaign stats": client.get(f"/campaigns/{campaign_id}/stats", headers=HTMX),
        "sync page": client.get(f"/campaigns/{campaign_id}/sync/{job_id}"),
        "sync progress": client.get(f"/campaigns/{campaign_id}/sync/{job_id}", headers=HTMX),
        "guide": client.get("/guide"),
        "plugins": client.get("/plugins"),
        "users": client.get("/admin/users"),
        "teams": client.get("/admin/teams"),
        "audit": client.get("/admin/audit"),
        "tokens": client.get("/tokens"),
        "new token": client.post("/tokens", data={"name": "sender", "team": ops,
                                                  "csrf_token": token}),
        "upload form": client.get("/campaigns/new"),
        "upload problems": client.post("/campaigns/new", data={"csrf_token": token}),
        "error": client.get("/campaigns/987654"),
        "sign-in": anonymous.get("/sign-in"),
        "sign-in refused": sign_in(anonymous, password="wrong password, again"),
    }
    assert pages["new token"].status_code == 201
    assert pages["upload problems"].status_code == 400
    assert "Clinic reminders" in text(page(pages["dashboard"]))
    assert page(pages["campaign"]).select_one("table.errors tr.error-row") is not None
    assert page(pages["audit"]).select_one("tr[data-action='report.download']") is not None
    for name, response in pages.items():
        document = page(response)
        assert inline_code(document) == [], name
        scripts = [tag["src"] for tag in document.find_all("script")]
        assert all(src.startswith("/static/") for src in scripts), (name, scripts)


def test_htmx_is_told_not_to_inject_its_inline_styles(client):
    document = page(client.get("/"))
    config = json.loads(document.find("meta", attrs={"name": "htmx-config"})["content"])
    assert config["includeIndicatorStyles"] is False
    assert [tag["src"] for tag in document.find_all("script")] == \
        ["/static/vendor/htmx.min.js", "/static/portal.js"]
    script = client.get("/static/vendor/htmx.min.js")
    assert script.status_code == 200 and b"htmx" in script.get_data()
    script.close()


def test_the_health_check_answers_without_signing_in(anonymous):
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert anonymous.get("/healthz", headers=HTMX).json == {"status": "ok"}
