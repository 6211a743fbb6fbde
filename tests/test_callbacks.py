"""Twilio status callbacks: verified, recorded raw, applied by precedence, and refused with
a reason when forged or malformed, without changing anything stored."""

import json
import logging

import pytest
import sqlalchemy as sa

from portal import counters
from portal.db import HeldConnections
from portal.db import db
from portal.models import Message
from portal.models import StatusEvent
from tests.conftest import AUTH_TOKEN
from tests.conftest import sid


def message(app, provider_message_id):
    with app.app_context():
        row = db.session.execute(sa.select(Message).where(
            Message.provider_message_id == provider_message_id)).scalar_one()
        return row.status, row.provider_status, row.error_code


def logged_events(app):
    with app.app_context():
        return db.session.execute(sa.select(StatusEvent).order_by(StatusEvent.id)).scalars().all()


def stored_counts(app, campaign_id):
    with app.app_context():
        return counters.stored(db.session.connection(), campaign_id)


def test_a_signed_callback_moves_the_message_and_the_counts(app, make_campaign,
                                                            twilio_callback):
    campaign_id = make_campaign("Live", [("+6581234567", "sent", None)])
    response = twilio_callback(sid(campaign_id, 0), "delivered")
    assert response.status_code == 200 and response.json["outcome"] == "applied"
    assert message(app, sid(campaign_id, 0)) == ("SENT", "delivered", None)
    assert stored_counts(app, campaign_id) == {("SENT", "delivered", ""): 1}
    event = logged_events(app)[-1]
    assert event.signature_ok and event.outcome == "applied" and event.source == "callback"
    assert json.loads(event.params)["MessageStatus"] == "delivered"


def test_a_callback_after_its_connection_broke_is_applied_on_a_new_one(app, make_campaign,
                                                                     twilio_callback):
    campaign_id = make_campaign("Live", [("+6581234567", "queued", None)] * 2)
    assert twilio_callback(sid(campaign_id, 0), "sent").json["outcome"] == "applied"
    with app.app_context():
        held, driver_error = HeldConnections.of(db.engine), db.engine.dialect.loaded_dbapi.Error
    held.local.pooled.driver_connection.close()  # the connection dropped under the portal

    with pytest.raises(driver_error):  # a 500 outside tests; nothing of it is stored
        twilio_callback(sid(campaign_id, 1), "sent")
    assert message(app, sid(campaign_id, 1)) == ("QUEUED", "queued", None)
    again = twilio_callback(sid(campaign_id, 1), "sent")
    assert again.status_code == 200 and again.json["outcome"] == "applied"
    assert message(app, sid(campaign_id, 1))[1] == "sent"
    assert stored_counts(app, campaign_id) == {("SENT", "sent", ""): 2}


def test_late_and_duplicate_callbacks_change_nothing(app, make_campaign, twilio_callback):
    campaign_id = make_campaign("Live", [("+6581234567", "queued", None)])
    twilio_callback(sid(campaign_id, 0), "undelivered", "30003")
    late = twilio_callback(sid(campaign_id, 0), "delivered")
    again = twilio_callback(sid(campaign_id, 0), "undelivered", "30003")
    assert late.status_code == again.status_code == 200
    assert late.json["outcome"] == again.json["outcome"] == "ignored"
    assert message(app, sid(campaign_id, 0)) == ("ERROR", "undelivered", "30003")
    assert stored_counts(app, campaign_id) == {("ERROR", "undelivered", "30003"): 1}
    assert len(logged_events(app)) == 3 + 1  # three callbacks and the registered status


def test_a_forged_callback_is_refused_logged_and_kept_apart(app, make_campaign,
                                                             twilio_callback, caplog):
    campaign_id = make_campaign("Live", [("+6581234567", "sent", None)])
    caplog.set_level(logging.WARNING)
    forged = twilio_callback(sid(campaign_id, 0), "failed", "30005", token="wrong-token")
    assert forged.status_code == 403
    assert "does not match" in forged.json["reason"]
    missing = twilio_callback(sid(campaign_id, 0), "failed", signature="")
    assert missing.status_code == 403 and "missing" in missing.json["reason"]
    assert message(app, sid(campaign_id, 0)) == ("SENT", "sent", None)
    assert [e.outcome for e in logged_events(app)[-2:]] == ["rejected", "rejected"]
    assert not any(e.signature_ok for e in logged_events(app)[-2:])
    refused = [r for r in caplog.records if "callback refused" in r.getMessage()]
    assert len(refused) == 2
    assert AUTH_TOKEN not in caplog.text and "+6581234567" not in caplog.text
    assert "+65******67" in caplog.text


def test_another_twilio_account_is_refused(app, make_campaign, twilio_callback):
    campaign_id = make_campaign("Live", [("+6581234567", "sent", None)])
    response = twilio_callback(sid(campaign_id, 0), "failed",
                               extra={"AccountSid": "AC" + "1" * 32})
    assert response.status_code == 403 and "another Twilio account" in response.json["reason"]


def test_malformed_callbacks_get_a_400_with_the_reason(app, make_campaign, twilio_callback):
    campaign_id = make_campaign("Live", [("+6581234567", "sent", None)])
    no_sid = twilio_callback(None, "delivered")
    assert no_sid.status_code == 400 and no_sid.json["reason"] == "MessageSid is missing"
    odd_status = twilio_callback(sid(campaign_id, 0), "teleported")
    assert odd_status.status_code == 400
    assert "'teleported' is not a Twilio status" in odd_status.json["reason"]
    bad_code = twilio_callback(sid(campaign_id, 0), "failed", "thirty")
    assert bad_code.status_code == 400
    assert message(app, sid(campaign_id, 0)) == ("SENT", "sent", None)


def test_signature_checked_against_the_public_url_behind_a_proxy(app, make_campaign,
                                                                 twilio_callback):
    campaign_id = make_campaign("Live", [("+6581234567", "sent", None)])
    public = "https://sms.example.gov/callbacks/twilio"
    # Without the setting the portal sees http://localhost/… and the signature fails.
    assert twilio_callback(sid(campaign_id, 0), "delivered", url=public).status_code == 403
    app.config["PORTAL_PUBLIC_URL"] = "https://sms.example.gov"
    assert twilio_callback(sid(campaign_id, 0), "delivered", url=public).status_code == 200


def test_trusted_proxy_headers_give_the_public_url(make_app):
    from twilio.request_validator import RequestValidator

    from tests.conftest import ACCOUNT_SID

    app = make_app(PORTAL_TRUSTED_PROXIES=1)
    form = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered",
            "AccountSid": ACCOUNT_SID}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        "https://sms.example.gov/callbacks/twilio", form)
    headers = {"X-Twilio-Signature": signature, "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "sms.example.gov", "X-Forwarded-Port": "443"}
    response = app.test_client().post("/callbacks/twilio", data=form, headers=headers)
    assert response.status_code == 200 and response.json["outcome"] == "pending"


def test_a_callback_before_its_message_is_kept_and_applied_on_registration(
        app, client, twilio_callback, api_token):
    token = api_token()
    auth = {"Authorization": f"Bearer {token}"}
    early = "SM" + "e" * 32
    assert twilio_callback(early, "delivered").json["outcome"] == "pending"
    campaign = client.post("/api/campaigns", json={"name": "Late register", "provider": "twilio",
                                                   "sent_at": "2026-12-01T08:00:00Z"},
                           headers=auth).json
    registered = client.post(f"/api/campaigns/{campaign['id']}/messages", headers=auth, json={
        "messages": [{"recipient": "+6581234567", "provider_message_id": early}]})
    assert registered.json["early_callbacks_applied"] == 1
    assert message(app, early) == ("SENT", "delivered", None)
    assert stored_counts(app, campaign["id"]) == {("SENT", "delivered", ""): 1}
    assert logged_events(app)[0].outcome == "applied"


def test_unknown_provider(client):
    response = client.post("/callbacks/carrier-pigeon", data={})
    assert response.status_code == 404 and "carrier-pigeon" in response.json["reason"]
