"""The JSON API: tokens, campaigns, message batches (all or nothing), stats."""

import sqlalchemy as sa

from portal.db import db
from portal.models import Message
from tests.conftest import page
from tests.conftest import text


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def new_campaign(client, token, **fields):
    body = {"name": "Flood warning", "provider": "twilio", "sent_at": "2026-12-01T08:00:00+08:00",
            **fields}
    return client.post("/api/campaigns", json=body, headers=auth(token))


def message_count(app):
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(Message)).scalar()


def test_create_a_campaign_and_register_messages(app, client, api_token):
    token = api_token()
    created = new_campaign(client, token)
    assert created.status_code == 201
    campaign_id = created.json["id"]
    batch = {"messages": [
        {"recipient": "+6581234567", "provider_message_id": "SM" + "1" * 32},
        {"recipient": "9123 4567", "provider_message_id": "SM" + "2" * 32, "status": "delivered"},
        {"recipient": "12", "provider_message_id": "SM" + "3" * 32},
        {"recipient": "+6581234567", "provider_message_id": "SM" + "1" * 32},
        {"recipient": "+6581110000", "provider_message_id": "SM" + "4" * 32,
         "status": "undelivered", "error_code": 30003},
    ]}
    response = client.post(f"/api/campaigns/{campaign_id}/messages", json=batch,
                           headers=auth(token))
    assert response.status_code == 201
    assert response.json["accepted"] == 3
    assert response.json["invalid_numbers"] == {"count": 1, "rows": [2]}
    assert response.json["duplicates"] == {"count": 1, "rows": [3]}

    again = client.post(f"/api/campaigns/{campaign_id}/messages", json=batch, headers=auth(token))
    assert again.json["accepted"] == 0 and again.json["duplicates"]["count"] == 5

    stats = client.get(f"/api/campaigns/{campaign_id}/stats", headers=auth(token)).json
    assert stats["total"] == 4
    assert stats["statuses"] == {"SENT": 1, "ERROR": 2, "QUEUED": 1, "SENDING": 0}
    assert {e["code"]: e["count"] for e in stats["errors"]} == {"invalid-number": 1, "30003": 1}
    assert stats["success_rate"] == 1 / 3


def test_api_stats_equal_the_campaign_page(client, api_token):
    token = api_token()
    campaign_id = new_campaign(client, token).json["id"]
    client.post(f"/api/campaigns/{campaign_id}/messages", headers=auth(token), json={
        "messages": [{"recipient": f"+65812300{n:02d}", "provider_message_id": f"SM{n:032x}",
                      "status": status} for n, status in enumerate(
            ["delivered", "sent", "queued", "sending", "failed", "delivered"])]})
    stats = client.get(f"/api/campaigns/{campaign_id}/stats", headers=auth(token)).json
    document = page(client.get(f"/campaigns/{campaign_id}"))
    for name in ("SENT", "ERROR", "QUEUED", "SENDING"):
        assert text(document.select_one(f"#count-{name.lower()}")) == str(stats["statuses"][name])
    assert text(document.select_one("#count-total")) == str(stats["total"])


def test_a_bad_batch_stores_nothing_and_says_what_was_wrong(app, client, api_token):
    token = api_token()
    campaign_id = new_campaign(client, token).json["id"]
    response = client.post(f"/api/campaigns/{campaign_id}/messages", headers=auth(token), json={
        "messages": [{"recipient": "+6581234567"}, {"provider_message_id": "SMx"},
                     {"recipient": "+6581234568", "status": "teleported"}, "nonsense"]})
    assert response.status_code == 400
    assert response.json["error"].startswith("nothing was stored")
    details = {(d["row"], d.get("field")) for d in response.json["details"]}
    assert details == {(1, "recipient"), (2, "status"), (3, None)}
    assert message_count(app) == 0


def test_bad_requests_get_json_answers(client, api_token):
    token = api_token()
    campaign_id = new_campaign(client, token).json["id"]
    url = f"/api/campaigns/{campaign_id}/messages"
    not_json = client.post(url, data="recipient=1", headers=auth(token))
    assert not_json.status_code == 400 and "must be JSON" in not_json.json["error"]
    empty = client.post(url, json={"messages": []}, headers=auth(token))
    assert empty.status_code == 400 and "non-empty list" in empty.json["error"]
    too_many = client.post(url, json={"messages": [{"recipient": "1"}] * 10_001},
                           headers=auth(token))
    assert too_many.status_code == 413 and "limit of 10,000" in too_many.json["error"]

    no_name = new_campaign(client, token, name="")
    assert no_name.status_code == 400 and "name" in no_name.json["error"]
    bad_provider = new_campaign(client, token, provider="pigeon")
    assert bad_provider.status_code == 400 and "twilio" in bad_provider.json["error"]
    bad_date = new_campaign(client, token, sent_at="yesterday")
    assert bad_date.status_code == 400 and "ISO 8601" in bad_date.json["error"]
    naive = new_campaign(client, token, sent_at="2026-12-01T08:00:00")
    assert naive.status_code == 400 and "time zone" in naive.json["error"]


def test_tokens_are_required_and_scoped_to_their_team(client, api_token, make_campaign):
    other_team = make_campaign("Someone else's", [("+6581234567", "sent", None)], team="Other")
    token = api_token("Ops")
    assert client.get("/api/campaigns").status_code == 401
    wrong = client.get("/api/campaigns", headers=auth("smsp_not-a-token"))
    assert wrong.status_code == 401 and "unknown or has been revoked" in wrong.json["error"]
    hidden = client.get(f"/api/campaigns/{other_team}/stats", headers=auth(token))
    assert hidden.status_code == 404 and "Someone" not in hidden.get_data(as_text=True)
    missing = client.get("/api/campaigns/9999/stats", headers=auth(token))
    assert missing.json == hidden.json | {"error": "there is no campaign 9999"}
    posting = client.post(f"/api/campaigns/{other_team}/messages", headers=auth(token),
                          json={"messages": [{"recipient": "+6581234567"}]})
    assert posting.status_code == 404


def test_token_commands_make_list_and_revoke(app, client, make_campaign):
    make_campaign("Any", [], team="Ops")
    runner = app.test_cli_runner()
    made = runner.invoke(args=["tokens", "create", "--team", "Ops", "--name", "sender"])
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert client.get("/api/campaigns", headers=auth(token)).status_code == 200
    listed = runner.invoke(args=["tokens", "list"]).output
    assert "Ops\tsender\tactive" in listed and token not in listed
    assert runner.invoke(args=["tokens", "revoke", "1"]).exit_code == 0
    assert client.get("/api/campaigns", headers=auth(token)).status_code == 401
    assert "revoked" in runner.invoke(args=["tokens", "list"]).output
    unknown = runner.invoke(args=["tokens", "create", "--team", "Nope", "--name", "x"])
    assert unknown.exit_code == 2 and "There is no team 'Nope'" in unknown.output
