"""The browser tests: the portal started as a person starts it (migrations, demo data,
gunicorn on 127.0.0.1), and Debian's chromium driven by Playwright. A failed test leaves a
screenshot and the HTML of each of its pages, and the server's log, in build/e2e-artifacts/."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.twilio_standin import TwilioStandIn

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTEFACTS = ROOT / "build" / "e2e-artifacts"
AXE = ROOT / "build" / "axe" / "axe.min.js"
CHROMIUM = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
# As root in a closed network, chromium needs no sandbox and must not phone home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
AUTH_TOKEN = "e2e-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "e" * 32
PASSWORD = "demo-password-2026"
ADMIN = "admin@portal.demo"
MANAGER = "manager@health.demo"
VIEWER = "viewer@health.demo"
HEALTH = "Public Health Office"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Portal:
    """The running portal: its URL, its environment, its CLI and its JSON API."""

    def __init__(self, folder, twilio_url):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "FLASK_APP": "portal", "PORTAL_INSTANCE_PATH": str(folder),
                    "PORTAL_DATABASE_URL": f"sqlite:///{folder}/portal.db",
                    "PORTAL_SECRET_KEY": "e2e-secret-key-not-for-production",
                    "PORTAL_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                    "PORTAL_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                    "PORTAL_TWILIO_API_URL": twilio_url,
                    # The demo's in-flight campaign went out hours ago: old enough to sync.
                    "PORTAL_SYNC_AFTER_HOURS": "0.5",
                    "PORTAL_BIND": f"127.0.0.1:{self.port}", "PORTAL_WORKERS": "2",
                    "PORTAL_LOG_LEVEL": "WARNING"}
        self.log = open(Path(folder) / "server.log", "w+b")
        self.server = None
        self.token = None

    def flask(self, *args):
        done = subprocess.run([str(BIN / "flask"), *args], env=self.env, cwd=ROOT, text=True,
                              capture_output=True, timeout=300)
        if done.returncode:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def start(self):
        self.flask("db", "upgrade")
        self.flask("demo", "--live")
        self.token = self.flask("tokens", "create", "--team", HEALTH,
                                "--name", "browser tests").split()[-1]
        self.server = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:portal.serving"], env=self.env, cwd=ROOT,
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                break
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        self.log.seek(0)
        raise RuntimeError(f"the portal did not start:\n{self.log.read().decode()[-3000:]}")

    def stop(self):
        if self.server and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(timeout=30)
        self.log.close()

    def api(self, method, path, body=None):
        """(status, JSON answer) of the JSON API, with the browser tests' token."""
        request = urllib.request.Request(
            self.url + path, method=method, data=json.dumps(body).encode() if body else None,
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def new_campaign(self, name, messages, sent_at="2026-12-01T08:00:00+00:00"):
        """A campaign registered through the API, as a sending system does; its id."""
        status, answer = self.api("POST", "/api/campaigns",
                                  {"name": name, "provider": "twilio", "sent_at": sent_at})
        assert status == 201, answer
        campaign_id = answer["id"]
        status, answer = self.api("POST", f"/api/campaigns/{campaign_id}/messages",
                                  {"messages": messages})
        assert status == 201, answer
        return campaign_id


def message_sid(number):
    return "SM" + format(number, "032x")


@pytest.fixture(scope="session")
def twilio():
    """A stand-in for Twilio's API, slow enough that a sync's progress can be watched."""
    with TwilioStandIn(ACCOUNT_SID, delay=0.01) as standin:
        standin.fallback = ("delivered", None)
        yield standin


@pytest.fixture(scope="session")
def portal(twilio):
    with tempfile.TemporaryDirectory(prefix="portal-e2e-") as folder:
        running = Portal(folder, twilio.url)
        try:
            running.start()
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"The browser tests need Debian's chromium at {CHROMIUM} "
                    f"(apt-get install chromium), or PORTAL_TEST_CHROMIUM set to another.")
    if not AXE.exists():
        pytest.fail(f"The browser tests need axe-core at {AXE}: run `make {AXE.relative_to(ROOT)}`"
                    f" (make test fetches it from the npm registry).")
    shutil.rmtree(ARTEFACTS, ignore_errors=True)  # what is there is this run's failures
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_page(request, browser, portal):
    """new_page(email=None, **context options) → a page in a fresh browser context, signed
    in as ``email`` when given. Pages are kept for the failure artefacts."""
    contexts = []
    refused = []
    request.node.e2e_pages = []
    request.node.e2e_portal = portal

    def make(email=None, **options):
        context = browser.new_context(base_url=portal.url, accept_downloads=True, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: refused.append(message.text)
                if "Content Security Policy" in message.text else None)
        request.node.e2e_pages.append(page)
        if email:
            sign_in(page, email)
        return page

    yield make
    for context in contexts:
        context.close()
    assert refused == [], "the page broke its own Content-Security-Policy"


def sign_in(page, email, password=PASSWORD):
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/(\?.*)?$"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)
    portal = getattr(item, "e2e_portal", None)
    if portal is not None:  # the server's side of the story: its log so far
        portal.log.flush()
        shutil.copyfile(portal.log.name, ARTEFACTS / f"{stem}-server.log")
    for number, page in enumerate(getattr(item, "e2e_pages", []), start=1):
        if page.is_closed():
            continue
        try:
            page.screenshot(path=str(ARTEFACTS / f"{stem}-{number}.png"), full_page=True)
            (ARTEFACTS / f"{stem}-{number}.html").write_text(page.content())
        except Exception as error:  # a crashed page must not hide the test's own failure
            report.sections.append(("e2e artefacts", f"page {number}: {error}"))
