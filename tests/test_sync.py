"""Asking Twilio for missing statuses: the sync itself, its retries and failures, the CLI,
and the page that starts it and shows its progress. Twilio's API is a fake HttpClient that
answers as Twilio does; nothing goes over the network."""

import json
import logging
import re
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from twilio.http import HttpClient
from twilio.http.response import Response

from portal import background
from portal import counters
from portal.db import db
from portal.db import utcnow
from portal.db import write_transaction
from portal.ingestion import events
from portal.ingestion import sync
from portal.models import Job
from portal.models import Message
from portal.models import StatusEvent
from tests.conftest import ACCOUNT_SID
from tests.conftest import AUTH_TOKEN
from tests.conftest import HTMX
from tests.conftest import page
from tests.conftest import sid
from tests.conftest import text
from tests.test_applying import Deadlock
from tests.twilio_standin import TwilioStandIn
from tests.twilio_standin import error_body
from tests.twilio_standin import message_answer

API = "https://api.twilio.com/2010-04-01"
MESSAGE_URL = re.compile(r"https://api\.twilio\.com/2010-04-01/Accounts/(?P<account>AC\w+)"
                         r"/Messages/(?P<sid>\w+)\.json")


def error_response(status, path):
    return Response(status, json.dumps(error_body(status, path)),
                    {"Content-Type": "application/json"})


class FakeTwilio(HttpClient):
    """Twilio's API for fetching one message. ``messages`` maps a sid to (status, error
    code); ``failures`` maps a sid to HTTP statuses answered first, one per request; every
    request is kept in ``requests``; ``on_request`` is called before each answer."""

    def __init__(self):
        super().__init__(logger=logging.getLogger("tests.fake_twilio"), is_async=False)
        self.messages = {}
        self.failures = {}
        self.requests = []
        self.on_request = None

    def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        self.requests.append(SimpleNamespace(method=method, uri=uri, params=params, data=data,
                                             headers=dict(headers or {}), auth=auth))
        if self.on_request:
            self.on_request()
        path = uri.removeprefix("https://api.twilio.com")
        match = MESSAGE_URL.fullmatch(uri)
        if method != "GET" or match is None:
            return error_response(404, path)
        if match["account"] != ACCOUNT_SID or auth != (ACCOUNT_SID, AUTH_TOKEN):
            return error_response(401, path)
        pending = self.failures.get(match["sid"])
        if pending:
            return error_response(pending.pop(0), path)
        status, body = message_answer(path, ACCOUNT_SID, self.messages)
        return Response(status, json.dumps(body), {"Content-Type": "application/json"})

    def asked(self):
        """The message sids asked about, in order."""
        return [MESSAGE_URL.fullmatch(request.uri)["sid"] for request in self.requests]


@pytest.fixture
def twilio(app):
    fake = FakeTwilio()
    app.config["TWILIO_HTTP_CLIENT"] = fake
    return fake


@pytest.fixture
def old_campaign(make_campaign):
    """old_campaign(name, provider statuses) → (campaign id, [sid of each message]); the
    messages last changed 13 hours ago."""

    def make(name, provider_statuses):
        rows = [(f"+658123{index:04d}", status, code)
                for index, (status, code) in enumerate(provider_statuses)]
        campaign_id = make_campaign(name, rows, updated_at=utcnow() - timedelta(hours=13))
        return campaign_id, [sid(campaign_id, index) for index in range(len(rows))]

    return make


def run_sync(app, campaign_id, hours=12, **options):
    sleeps = []
    with app.app_context():
        tally = sync.sync_campaign(campaign_id, sync.threshold(hours), sleep=sleeps.append,
                                   **options)
    return tally, sleeps


def failed_sync(app, campaign_id, **options):
    sleeps = []
    with app.app_context(), pytest.raises(sync.SyncFailed) as failure:
        sync.sync_campaign(campaign_id, sync.threshold(12), sleep=sleeps.append, **options)
    return failure.value, sleeps


def state(app, campaign_id):
    """{sid: (status, provider status, error code)} of the campaign's messages."""
    with app.app_context(), db.engine.connect() as connection:
        rows = connection.execute(
            sa.select(Message.provider_message_id, Message.status, Message.provider_status,
                      Message.error_code).where(Message.campaign_id == campaign_id))
        return {row[0]: tuple(row[1:]) for row in rows}


def counts_match(app, campaign_id):
    with app.app_context(), db.engine.connect() as connection:
        return counters.check(connection, campaign_id) == []


def sync_events(app):
    with app.app_context(), db.engine.connect() as connection:
        return connection.execute(
            sa.select(StatusEvent).where(StatusEvent.source == "sync")
            .order_by(StatusEvent.id)).all()


def jobs(app):
    with app.app_context(), db.engine.connect() as connection:
        return connection.execute(sa.select(Job).order_by(Job.id)).all()


# The sync

def test_old_in_flight_messages_get_their_statuses_and_the_counts_follow(
        app, twilio, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [
        ("queued", None), ("queued", None), ("sending", None), ("accepted", None),
        ("delivered", None), ("failed", "30003")])
    twilio.messages = {sids[0]: ("delivered", None), sids[1]: ("undelivered", "30003"),
                       sids[2]: ("sent", None), sids[3]: ("failed", "21610")}

    tally, sleeps = run_sync(app, campaign_id)

    assert tally == sync.Tally(asked=4, updated=4)
    assert sleeps == []
    assert state(app, campaign_id) == {
        sids[0]: ("SENT", "delivered", None), sids[1]: ("ERROR", "undelivered", "30003"),
        sids[2]: ("SENT", "sent", None), sids[3]: ("ERROR", "failed", "21610"),
        sids[4]: ("SENT", "delivered", None), sids[5]: ("ERROR", "failed", "30003")}
    assert counts_match(app, campaign_id)
    # QUEUED messages first, then SENDING ones, each by id.
    assert twilio.asked() == [sids[0], sids[1], sids[3], sids[2]]
    for request in twilio.requests:
        assert request.method == "GET"
        assert request.uri.startswith(f"{API}/Accounts/{ACCOUNT_SID}/Messages/")
        assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
        assert request.headers["Accept"] == "application/json"


def test_the_status_events_written_come_from_the_sync(app, twilio, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None), ("sending", None)])
    twilio.messages = {sids[0]: ("undelivered", "30003"), sids[1]: ("sending", None)}

    run_sync(app, campaign_id)

    written = sync_events(app)
    assert [(event.provider, event.source, event.provider_message_id, event.provider_status,
             event.error_code, event.outcome) for event in written] == [
        ("twilio", "sync", sids[0], "undelivered", "30003", "applied"),
        ("twilio", "sync", sids[1], "sending", None, "ignored")]
    assert json.loads(written[0].params) == {"via": "sync", "status": "undelivered",
                                             "error_code": "30003"}


def test_recent_final_and_unidentified_messages_are_not_asked_about(
        app, twilio, old_campaign, make_campaign):
    old_id, old_sids = old_campaign("Old", [("queued", None), ("delivered", None),
                                            ("undelivered", "30003"), ("queued", None)])
    recent_id = make_campaign("Recent", [("+6581234567", "queued", None)])
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.update(Message).where(Message.provider_message_id == old_sids[3])
                           .values(provider_message_id=None))
    twilio.messages = {old_sids[0]: ("delivered", None)}

    with app.app_context(), db.engine.connect() as connection:
        work = sync.campaigns_to_sync(connection, sync.threshold(12))
    assert [(item.campaign_id, item.candidates) for item in work] == [(old_id, 1)]
    run_sync(app, old_id)
    run_sync(app, recent_id)

    assert twilio.asked() == [old_sids[0]]
    assert state(app, recent_id) == {sid(recent_id, 0): ("QUEUED", "queued", None)}


def test_the_threshold_decides_which_messages_are_old_enough(app, twilio, old_campaign):
    campaign_id, sids = old_campaign("Old", [("queued", None)])
    twilio.messages = {sids[0]: ("delivered", None)}

    assert run_sync(app, campaign_id, hours=14)[0] == sync.Tally()
    assert twilio.requests == []
    assert run_sync(app, campaign_id, hours=12)[0] == sync.Tally(asked=1, updated=1)


def test_a_message_twilio_does_not_know_is_counted_and_left_alone(app, twilio, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None), ("queued", None)])
    twilio.messages = {sids[1]: ("delivered", None)}

    tally, _ = run_sync(app, campaign_id)

    assert tally == sync.Tally(asked=2, updated=1, unknown=1)
    assert state(app, campaign_id)[sids[0]] == ("QUEUED", "queued", None)
    assert [event.provider_message_id for event in sync_events(app)] == [sids[1]]
    assert counts_match(app, campaign_id)


def test_a_status_the_plugin_does_not_know_is_skipped_and_counted(app, twilio, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None), ("queued", None)])
    twilio.messages = {sids[0]: ("paused", None), sids[1]: ("delivered", None)}

    tally, _ = run_sync(app, campaign_id)

    assert tally == sync.Tally(asked=2, updated=1, skipped=1)
    assert state(app, campaign_id)[sids[0]] == ("QUEUED", "queued", None)
    rejected = [event for event in sync_events(app) if event.outcome == "rejected"]
    assert [(event.provider_message_id, event.provider_status) for event in rejected] == \
        [(sids[0], "paused")]
    assert "does not know" in rejected[0].reason
    assert counts_match(app, campaign_id)


def test_refused_credentials_stop_at_once_and_change_nothing(app, twilio, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None), ("queued", None)])
    twilio.messages = {sids[0]: ("delivered", None), sids[1]: ("delivered", None)}
    app.config["PORTAL_TWILIO_AUTH_TOKEN"] = "not-the-token"

    failure, sleeps = failed_sync(app, campaign_id)

    assert failure.reason == ("Twilio refused the credentials (401); check "
                              "PORTAL_TWILIO_ACCOUNT_SID and PORTAL_TWILIO_AUTH_TOKEN.")
    assert failure.tally == sync.Tally()
    assert len(twilio.requests) == 1 and sleeps == []
    assert set(state(app, campaign_id).values()) == {("QUEUED", "queued", None)}
    assert sync_events(app) == []


def test_missing_credentials_stop_before_asking(app, twilio, old_campaign):
    campaign_id, _ = old_campaign("Clinic reminders", [("queued", None)])
    app.config["PORTAL_TWILIO_ACCOUNT_SID"] = ""

    failure, sleeps = failed_sync(app, campaign_id)

    assert "Set PORTAL_TWILIO_ACCOUNT_SID and PORTAL_TWILIO_AUTH_TOKEN" in failure.reason
    assert twilio.requests == [] and sleeps == []


def test_a_rate_limit_is_waited_out_and_the_answers_applied(app, twilio, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None), ("queued", None)])
    twilio.messages = {sids[0]: ("delivered", None), sids[1]: ("sent", None)}
    twilio.failures = {sids[0]: [429]}

    tally, sleeps = run_sync(app, campaign_id)

    assert tally == sync.Tally(asked=2, updated=2)
    assert sleeps == [0.5]
    assert twilio.asked() == [sids[0], sids[0], sids[1]]
    assert state(app, campaign_id)[sids[0]] == ("SENT", "delivered", None)
    assert counts_match(app, campaign_id)


def test_server_errors_three_times_fail_and_apply_nothing_of_that_chunk(
        app, twilio, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None)] * 4)
    twilio.messages = {message_sid: ("delivered", None) for message_sid in sids}
    twilio.failures = {sids[3]: [500, 500, 500]}

    failure, sleeps = failed_sync(app, campaign_id, chunk=2)

    assert failure.reason.startswith("Twilio kept failing after 3 tries (Twilio answered 500")
    assert "Try again in a few minutes." in failure.reason
    assert failure.tally == sync.Tally(asked=2, updated=2)
    assert sleeps == [0.5, 1.0]
    assert twilio.asked() == sids[:2] + [sids[2], sids[3]] * 3
    assert state(app, campaign_id) == {
        sids[0]: ("SENT", "delivered", None), sids[1]: ("SENT", "delivered", None),
        sids[2]: ("QUEUED", "queued", None), sids[3]: ("QUEUED", "queued", None)}
    assert [event.provider_message_id for event in sync_events(app)] == sids[:2]
    assert counts_match(app, campaign_id)


def test_a_chunk_aborted_to_break_a_deadlock_is_applied_once_on_the_next_try(
        app, twilio, old_campaign, monkeypatch):
    campaign_id, sids = old_campaign("Retried", [("queued", None), ("queued", None)])
    twilio.messages = {sids[0]: ("delivered", None), sids[1]: ("failed", "30003")}
    receive, tries = events.receive, []
    def deadlocked_once(*args, **kwargs):
        tries.append(1)
        outcome = receive(*args, **kwargs)
        if len(tries) == 2:  # halfway through the chunk
            raise Deadlock("deadlock detected")
        return outcome

    monkeypatch.setattr(events, "receive", deadlocked_once)
    tally, _ = run_sync(app, campaign_id)
    assert tally == sync.Tally(asked=2, updated=2)
    assert state(app, campaign_id) == {sids[0]: ("SENT", "delivered", None),
                                       sids[1]: ("ERROR", "failed", "30003")}
    assert len(sync_events(app)) == 2
    assert counts_match(app, campaign_id)


def test_candidates_are_read_in_pages_and_asked_about_in_chunks(app, twilio, old_campaign):
    queued, sending = ("queued", None), ("sending", None)
    campaign_id, sids = old_campaign("Clinic reminders", [
        queued, sending, queued, sending, queued, queued, sending])
    twilio.messages = {message_sid: ("delivered", None) for message_sid in sids}
    chunks = []

    tally, _ = run_sync(app, campaign_id, page=3, chunk=2,
                        progress=lambda chunk, total: chunks.append((chunk.asked, total.asked)))

    assert tally == sync.Tally(asked=7, updated=7)
    assert twilio.asked() == [sids[i] for i in (0, 2, 4, 5, 1, 3, 6)]
    # QUEUED in pages of 3 and 1, SENDING in one page of 3; each asked about 2 at a time.
    assert chunks == [(2, 2), (1, 3), (1, 4), (2, 6), (1, 7)]
    assert counts_match(app, campaign_id)


def test_one_log_line_per_sync_without_numbers_or_tokens(app, twilio, old_campaign, caplog):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None), ("queued", None)])
    twilio.messages = {sids[0]: ("delivered", None)}

    with caplog.at_level(logging.INFO):
        run_sync(app, campaign_id)

    lines = [record.getMessage() for record in caplog.records
             if record.name == "portal.ingestion.sync"]
    assert lines == [f"sync campaign={campaign_id} provider=twilio asked=2 updated=1 "
                     f"unchanged=0 unknown=1 skipped=0"]
    assert "+658123" not in caplog.text and AUTH_TOKEN not in caplog.text


# The command

def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["sync", *args])


def test_the_command_syncs_every_campaign_and_sums_up(app, twilio, old_campaign):
    first, first_sids = old_campaign("Clinic reminders", [("queued", None), ("queued", None)])
    second, second_sids = old_campaign("Flu shots", [("sending", None)])
    twilio.messages = {first_sids[0]: ("delivered", None), second_sids[0]: ("sending", None)}

    result = invoke(app)

    assert result.exit_code == 0, result.output
    assert "Asking about 3 messages" in result.output
    assert (f"Campaign {first} (Clinic reminders): Asked Twilio about 2 messages: 1 got a new "
            f"status, 0 unchanged, 1 unknown to Twilio.") in result.output
    assert (f"Campaign {second} (Flu shots): Asked Twilio about 1 message: 0 got a new "
            f"status, 1 unchanged, 0 unknown to Twilio.") in result.output
    assert ("In all, 2 campaigns: 3 asked, 1 updated, 1 unchanged, 1 unknown to the "
            "provider.") in result.output
    assert counts_match(app, first) and counts_match(app, second)


def test_the_command_takes_one_campaign_and_a_threshold(app, twilio, old_campaign):
    first, first_sids = old_campaign("Clinic reminders", [("queued", None)])
    second, second_sids = old_campaign("Flu shots", [("queued", None)])
    twilio.messages = {first_sids[0]: ("delivered", None), second_sids[0]: ("delivered", None)}

    result = invoke(app, "--campaign", str(second), "--older-than", "20")
    assert result.exit_code == 0, result.output
    assert "No message has been waiting for a status for more than 20 hours" in result.output

    result = invoke(app, "--campaign", str(second), "--older-than", "2.5")
    assert result.exit_code == 0, result.output
    assert twilio.asked() == [second_sids[0]]
    assert f"Campaign {second} (Flu shots): Asked Twilio about 1 message" in result.output


def test_the_command_uses_the_configured_threshold(app, twilio, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None)])
    app.config["PORTAL_SYNC_AFTER_HOURS"] = 24.0

    result = invoke(app)

    assert result.exit_code == 0, result.output
    assert "more than 24 hours" in result.output and twilio.requests == []


def test_the_command_fails_with_the_reason_and_keeps_what_it_applied(
        app, twilio, old_campaign):
    first, first_sids = old_campaign("Clinic reminders", [("queued", None)])
    second, second_sids = old_campaign("Flu shots", [("queued", None)])
    twilio.messages = {first_sids[0]: ("delivered", None), second_sids[0]: ("delivered", None)}
    twilio.failures = {second_sids[0]: [500, 500, 500]}
    sync.FIRST_DELAY, saved = 0.001, sync.FIRST_DELAY
    try:
        result = invoke(app)
    finally:
        sync.FIRST_DELAY = saved

    assert result.exit_code == 1
    assert f"Campaign {first} (Clinic reminders): Asked Twilio about 1 message" in result.stdout
    assert result.stderr.startswith(f"Error: Campaign {second} (Flu shots): Twilio kept "
                                    f"failing after 3 tries")
    assert "Nothing was changed." in result.stderr
    assert state(app, first)[first_sids[0]] == ("SENT", "delivered", None)
    assert state(app, second)[second_sids[0]] == ("QUEUED", "queued", None)


def test_the_command_stops_on_refused_credentials(app, twilio, old_campaign):
    old_campaign("Clinic reminders", [("queued", None)])
    app.config["PORTAL_TWILIO_AUTH_TOKEN"] = "not-the-token"

    result = invoke(app)

    assert result.exit_code == 1
    assert "Error: " in result.stderr and "Twilio refused the credentials (401)" in result.stderr


def test_the_command_names_an_unknown_campaign(app, twilio):
    result = invoke(app, "--campaign", "999")
    assert result.exit_code == 2
    assert "There is no campaign 999" in result.output


# The page

@pytest.fixture
def inline(app):
    app.config["PORTAL_RUN_IN_BACKGROUND"] = False


def add_job(app, campaign_id, **values):
    with app.app_context():
        job = Job(kind="sync", campaign_id=campaign_id, **values)
        db.session.add(job)
        db.session.commit()
        return job.id


def no_script(element):
    assert element.find("script") is None
    for tag in element.find_all(True):
        assert not [name for name in tag.attrs if name.startswith(("on", "hx-on"))], tag


def test_the_campaign_page_offers_a_sync(client, old_campaign):
    campaign_id, _ = old_campaign("Clinic reminders", [("queued", None)])
    document = page(client.get(f"/campaigns/{campaign_id}"))
    section = document.select_one("section.sync")
    assert section.find_previous_sibling("section")["class"] == ["downloads"]
    form = section.find("form")
    assert form["method"] == "post" and form["action"] == f"/campaigns/{campaign_id}/sync"
    assert form["hx-post"] == form["action"]
    assert form["hx-target"] == "#sync-progress" and form["hx-swap"] == "outerHTML"
    assert text(form.find("button")) == "Ask Twilio for missing statuses"
    assert "after 12 hours" in text(section)
    progress = section.select_one("#sync-progress")
    assert progress.find("progress") is None and not progress.has_attr("hx-get")


def test_posting_starts_a_sync_and_comes_back_to_the_campaign(
        app, client, twilio, inline, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None), ("queued", None)])
    twilio.messages = {sids[0]: ("delivered", None)}

    response = client.post(f"/campaigns/{campaign_id}/sync")

    assert response.status_code == 303
    assert response.headers["Location"] == f"/campaigns/{campaign_id}#sync"
    [job] = jobs(app)
    assert (job.kind, job.campaign_id, job.state, job.done, job.total) == \
        ("sync", campaign_id, "done", 2, 2)
    summary = ("Asked Twilio about 2 messages: 1 got a new status, 0 unchanged, 1 unknown "
               "to Twilio.")
    assert job.message == summary and job.finished_at is not None
    assert state(app, campaign_id)[sids[0]] == ("SENT", "delivered", None)

    document = page(client.get(f"/campaigns/{campaign_id}"))
    assert summary in text(document.select_one("section.sync #sync-progress"))


def test_the_job_partial_shows_the_final_summary_and_stops_polling(
        app, client, twilio, inline, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None)])
    twilio.messages = {sids[0]: ("delivered", None)}
    client.post(f"/campaigns/{campaign_id}/sync")
    [job] = jobs(app)

    response = client.get(f"/campaigns/{campaign_id}/sync/{job.id}", headers=HTMX)

    document = page(response)
    assert "HX-Request" in response.headers["Vary"]
    assert document.find("html") is None
    progress = document.select_one("#sync-progress")
    assert not progress.has_attr("hx-get") and progress["data-job-state"] == "done"
    bar = progress.find("progress")
    assert (bar["value"], bar["max"]) == ("1", "1")
    assert "Asked Twilio about 1 message: 1 got a new status" in text(progress)
    no_script(document)


def test_the_job_opened_directly_is_a_page(app, client, twilio, inline, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None)])
    twilio.messages = {sids[0]: ("delivered", None)}
    client.post(f"/campaigns/{campaign_id}/sync")
    [job] = jobs(app)

    document = page(client.get(f"/campaigns/{campaign_id}/sync/{job.id}"))

    assert document.find("html") is not None
    assert "Clinic reminders" in text(document.find("h1"))
    assert document.select_one("main #sync-progress progress") is not None
    link = document.select_one(".crumbs a[href='/campaigns/%d']" % campaign_id)
    assert text(link) == "Clinic reminders"


def test_an_htmx_post_answers_with_the_progress_partial(
        app, client, twilio, inline, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None)])
    twilio.messages = {sids[0]: ("delivered", None)}

    response = client.post(f"/campaigns/{campaign_id}/sync", headers=HTMX)

    assert response.status_code == 200
    progress = page(response).select_one("#sync-progress")
    assert progress["data-job-state"] == "done"
    assert "1 got a new status" in text(progress)


def test_a_running_sync_polls_and_is_shown_instead_of_starting_another(
        app, client, twilio, inline, old_campaign):
    campaign_id, _ = old_campaign("Clinic reminders", [("queued", None)])
    job_id = add_job(app, campaign_id, state="running", done=300, total=1200,
                     message="Asked Twilio about 300 of 1,200 messages")

    response = client.post(f"/campaigns/{campaign_id}/sync", headers=HTMX)

    assert [job.id for job in jobs(app)] == [job_id] and twilio.requests == []
    progress = page(response).select_one("#sync-progress")
    assert progress["hx-get"] == f"/campaigns/{campaign_id}/sync/{job_id}"
    assert progress["hx-trigger"] == "load delay:1s" and progress["hx-swap"] == "outerHTML"
    bar = progress.find("progress")
    assert (bar["value"], bar["max"]) == ("300", "1200")
    assert "Asked Twilio about 300 of 1,200 messages" in text(progress)
    no_script(progress)

    response = client.post(f"/campaigns/{campaign_id}/sync")
    assert response.status_code == 303 and len(jobs(app)) == 1


def test_the_progress_moves_after_each_chunk(app, client, twilio, inline, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None)] * 150)
    twilio.messages = {message_sid: ("delivered", None) for message_sid in sids}
    seen = []

    def look_at_the_job():
        # A write transaction of its own: no write lock is held while Twilio is asked.
        with write_transaction(db.engine) as connection:
            seen.append(tuple(connection.execute(sa.select(Job.done, Job.message)).one()))

    twilio.on_request = look_at_the_job
    client.post(f"/campaigns/{campaign_id}/sync")

    assert seen[0] == (0, "Getting ready to ask Twilio about 150 messages")
    assert seen[100] == (100, "Asked Twilio about 100 of 150 messages")
    [job] = jobs(app)
    assert (job.state, job.done, job.total) == ("done", 150, 150)
    assert counts_match(app, campaign_id)


def test_a_failed_sync_says_why_and_stops_polling(app, client, twilio, inline, old_campaign):
    campaign_id, _ = old_campaign("Clinic reminders", [("queued", None)])
    app.config["PORTAL_TWILIO_AUTH_TOKEN"] = "not-the-token"

    client.post(f"/campaigns/{campaign_id}/sync")

    [job] = jobs(app)
    assert job.state == "failed" and job.finished_at is not None
    assert job.message == ("Twilio refused the credentials (401); check "
                           "PORTAL_TWILIO_ACCOUNT_SID and PORTAL_TWILIO_AUTH_TOKEN. Nothing "
                           "was changed.")
    progress = page(client.get(f"/campaigns/{campaign_id}/sync/{job.id}", headers=HTMX))
    progress = progress.select_one("#sync-progress")
    assert not progress.has_attr("hx-get")
    assert "The sync stopped." in text(progress.select_one(".warning"))
    # A failed sync does not block the next one.
    app.config["PORTAL_TWILIO_AUTH_TOKEN"] = AUTH_TOKEN
    client.post(f"/campaigns/{campaign_id}/sync")
    assert [job.state for job in jobs(app)] == ["failed", "done"]


def stale():
    """A moment long enough ago that a job last marked then is taken for stopped."""
    return utcnow() - timedelta(seconds=background.STALE_SECONDS + 1)


def test_a_sync_whose_process_ended_says_so_and_is_no_longer_polled(
        app, client, twilio, old_campaign):
    campaign_id, _ = old_campaign("Clinic reminders", [("queued", None)])
    job_id = add_job(app, campaign_id, state="running", done=300, total=1200,
                     message="Asked Twilio about 300 of 1,200 messages", heartbeat_at=stale())

    for shown in (page(client.get(f"/campaigns/{campaign_id}/sync/{job_id}", headers=HTMX)),
                  page(client.get(f"/campaigns/{campaign_id}"))):
        progress = shown.select_one("#sync-progress")
        assert not progress.has_attr("hx-get") and progress["data-job-state"] == "failed"
        assert text(progress.select_one("[role=alert]")) == (
            "The sync stopped. The portal process running it ended (a restart or a crash) "
            "before it finished. What it had already fetched is kept; start the sync again.")


def test_a_sync_whose_process_ended_no_longer_holds_back_the_next(
        app, client, twilio, inline, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None)])
    twilio.messages = {sids[0]: ("delivered", None)}
    dead = add_job(app, campaign_id, state="running", done=300, total=1200,
                   message="Asked Twilio about 300 of 1,200 messages", heartbeat_at=stale())

    response = client.post(f"/campaigns/{campaign_id}/sync", headers=HTMX)

    first, second = jobs(app)
    assert first.id == dead and first.state == "failed" and first.finished_at is not None
    assert first.message == sync.STOPPED
    assert second.state == "done" and state(app, campaign_id)[sids[0]][0] == "SENT"
    assert page(response).select_one("#sync-progress")["data-job-state"] == "done"


def held_sync(app, client, twilio, old_campaign):
    """A sync started in the background and held at its first question to Twilio:
    (campaign id, its message ids, the job, a function that lets it finish)."""
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None)])
    twilio.messages = {sids[0]: ("delivered", None)}
    asking, answer = threading.Event(), threading.Event()
    twilio.on_request = lambda: (asking.set(), answer.wait(10))
    client.post(f"/campaigns/{campaign_id}/sync")
    assert asking.wait(10)
    [job] = jobs(app)

    def finish():
        answer.set()
        for thread in threading.enumerate():
            if thread.name.startswith(f"portal-sync-{job.id}"):
                thread.join(timeout=10)

    return campaign_id, sids, job, finish


def test_a_sync_waiting_on_twilio_keeps_marking_itself_alive(
        app, client, twilio, old_campaign, monkeypatch):
    monkeypatch.setattr(background, "HEARTBEAT_SECONDS", 0.05)
    campaign_id, sids, job, finish = held_sync(app, client, twilio, old_campaign)
    try:
        # As if it had started and been marked long ago: the next beat marks it again.
        with app.app_context():
            background.update_job(db.engine, job.id, started_at=stale(), heartbeat_at=stale())
        for _ in range(200):
            [job] = jobs(app)
            if not background.stopped(job):
                break
            time.sleep(0.05)
        assert not background.stopped(job)
        client.post(f"/campaigns/{campaign_id}/sync")
        assert [other.id for other in jobs(app)] == [job.id]  # no second sync started
    finally:
        finish()
    [job] = jobs(app)
    assert job.state == "done" and state(app, campaign_id)[sids[0]][0] == "SENT"


def test_a_sync_taken_for_stopped_while_it_runs_leaves_its_row_as_stopped(
        app, client, twilio, old_campaign, caplog):
    campaign_id, _, job, finish = held_sync(app, client, twilio, old_campaign)
    with app.app_context(), write_transaction(db.engine) as connection:
        connection.execute(sa.update(Job).where(Job.id == job.id).values(
            started_at=stale(), heartbeat_at=stale()))
        assert background.running_job(connection, sync.KIND, campaign_id, sync.STOPPED) is None
    finish()
    [job] = jobs(app)
    assert (job.state, job.message, job.done) == ("failed", sync.STOPPED, 0)
    assert f"sync job {job.id} of campaign {campaign_id} was taken for stopped" in caplog.text


def test_the_heartbeat_leaves_a_finished_job_alone(app, old_campaign, monkeypatch):
    monkeypatch.setattr(background, "HEARTBEAT_SECONDS", 0.01)
    campaign_id, _ = old_campaign("Clinic reminders", [("queued", None)])
    long_ago = stale().replace(microsecond=0)
    job_id = add_job(app, campaign_id, state="done", heartbeat_at=long_ago)
    with app.app_context(), background.heartbeat(db.engine, job_id, "test"):
        time.sleep(0.3)
    [job] = jobs(app)
    assert (job.state, job.heartbeat_at) == ("done", long_ago)


def test_nothing_to_ask_is_said_plainly(app, client, twilio, inline, make_campaign):
    campaign_id = make_campaign("Fresh", [("+6581234567", "queued", None)])

    client.post(f"/campaigns/{campaign_id}/sync")

    [job] = jobs(app)
    assert (job.state, job.done, job.total) == ("done", 0, 0)
    assert job.message == ("No message has been waiting for a status for more than 12 hours, "
                           "so there was nothing to ask Twilio.")
    bar = page(client.get(f"/campaigns/{campaign_id}/sync/{job.id}", headers=HTMX))
    bar = bar.find("progress")
    assert (bar["value"], bar["max"]) == ("1", "1")


def test_a_job_is_only_found_under_its_own_campaign(app, client, old_campaign):
    first, _ = old_campaign("Clinic reminders", [("queued", None)])
    second, _ = old_campaign("Flu shots", [("queued", None)])
    job_id = add_job(app, first, state="done", message="Finished")

    assert client.get(f"/campaigns/{first}/sync/{job_id}").status_code == 200
    assert client.get(f"/campaigns/{second}/sync/{job_id}").status_code == 404
    assert client.get(f"/campaigns/{first}/sync/{job_id + 1}").status_code == 404
    assert client.post("/campaigns/999/sync").status_code == 404


def test_by_default_the_sync_runs_in_a_background_thread(app, client, twilio, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None)])
    twilio.messages = {sids[0]: ("delivered", None)}
    ran_in = []
    twilio.on_request = lambda: ran_in.append(threading.current_thread().name)

    response = client.post(f"/campaigns/{campaign_id}/sync")

    assert response.status_code == 303
    [job] = jobs(app)
    for thread in threading.enumerate():
        if thread.name == f"portal-sync-{job.id}":
            thread.join(timeout=10)
    assert ran_in == [f"portal-sync-{job.id}"]
    [job] = jobs(app)
    assert job.state == "done" and state(app, campaign_id)[sids[0]][0] == "SENT"


def test_a_configured_api_url_is_asked_over_http_instead_of_twilio(app, old_campaign):
    campaign_id, sids = old_campaign("Clinic reminders", [("queued", None), ("sending", None)])
    with TwilioStandIn(ACCOUNT_SID) as standin:
        standin.messages = {sids[0]: ("delivered", None), sids[1]: ("undelivered", "30005")}
        app.config["PORTAL_TWILIO_API_URL"] = standin.url
        tally, _ = run_sync(app, campaign_id)
    assert sorted(standin.asked) == sorted(
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json" for sid in sids)
    assert tally == sync.Tally(asked=2, updated=2)
    assert state(app, campaign_id) == {sids[0]: ("SENT", "delivered", None),
                                       sids[1]: ("ERROR", "undelivered", "30005")}

