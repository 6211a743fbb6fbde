"""The Twilio provider: every status, every published error code, and codes it does not
know."""

import json
from pathlib import Path

from plugins.twilio import TWILIO
from plugins.twilio import errors
from portal import statuses
from portal.plugin_manager import PluginManager
from portal.statuses import ERROR_KINDS

# Twilio's published messaging error codes (code, official title, …), as Twilio lists them.
PUBLISHED = json.loads((Path(__file__).parent / "data" / "twilio-error-codes.json").read_text())


def test_every_published_code_is_interpreted_with_its_official_title():
    catalogue = errors.catalogue()
    assert len(catalogue) == len(PUBLISHED) == 389
    for published in PUBLISHED:
        interpretation = catalogue[str(published["code"])]
        assert interpretation.title == published["message"].strip()
        assert interpretation.kind in ERROR_KINDS
        assert interpretation.meaning and interpretation.action
        assert interpretation.link == f"https://www.twilio.com/docs/api/errors/{published['code']}"


def test_common_codes_have_the_expected_kind():
    kinds = {code: errors.interpret(code).kind for code in
             ("21211", "21614", "30003", "30007", "21610", "30002", "30500")}
    assert kinds == {"21211": "bad_number", "21614": "bad_number", "30003": "temporary",
                     "30007": "content_consent", "21610": "content_consent",
                     "30002": "account_config", "30500": "provider_fault"}


def test_an_unknown_code_says_so_and_links_to_twilio():
    interpretation = PluginManager(load_installed=False).interpret_error("twilio", "39999")
    assert not interpretation.known and interpretation.kind == "unknown"
    assert "39999" in interpretation.title
    assert interpretation.link == "https://www.twilio.com/docs/api/errors/39999"


def test_every_message_status_is_known_and_mapped():
    names = {status.name for status in TWILIO.statuses}
    assert names == {"accepted", "scheduled", "queued", "sending", "sent", "delivered",
                     "undelivered", "failed", "canceled", "receiving", "received", "read",
                     "partially_delivered"}
    assert TWILIO.status("delivered").status == statuses.SENT
    assert TWILIO.status("sent").status == statuses.SENT
    assert {TWILIO.status(name).status for name in ("undelivered", "failed", "canceled")} \
        == {statuses.ERROR}
    assert {TWILIO.status(name).status for name in ("queued", "accepted", "scheduled")} \
        == {statuses.QUEUED}
    assert TWILIO.status("sending").status == statuses.SENDING


def test_precedence_is_in_flight_then_sent_then_delivered_then_error():
    ranks = [status.rank for status in TWILIO.statuses]
    assert len(set(ranks)) == len(ranks)
    rank = {status.name: status.rank for status in TWILIO.statuses}
    assert rank["queued"] < rank["sending"] < rank["sent"] < rank["delivered"] < rank["failed"]
    in_flight = [s.rank for s in TWILIO.statuses if s.status in statuses.IN_FLIGHT]
    successes = [s.rank for s in TWILIO.statuses if s.status == statuses.SENT]
    failures = [s.rank for s in TWILIO.statuses if s.status == statuses.ERROR]
    assert max(in_flight) < min(successes) and max(successes) < min(failures)
    assert max(failures) < statuses.INVALID_NUMBER_RANK
