"""The users API: create with E.164 phones, list with filters, detail, update, consent, lookup, link, delete."""

import uuid

from app.assistant import services as assistant
from app.extensions import db
from tests.audience.conftest import create_user


def test_create_validates_e164_phone_with_a_clear_422(client, creator):
    response = client.post("/api/v1/users", headers=creator.headers, json={"phone_e164": "415-555-1234"})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["field"] == "phone_e164"
    assert "E.164" in error["details"][0]["message"]


def test_create_rejects_unknown_timezone_and_missing_identity(client, creator):
    bad_zone = client.post(
        "/api/v1/users", headers=creator.headers, json={"phone_e164": "+14155551234", "timezone": "Mars/Base"}
    )
    assert bad_zone.status_code == 422 and bad_zone.json["error"]["details"][0]["field"] == "timezone"
    nothing = client.post("/api/v1/users", headers=creator.headers, json={"display_name": "Nobody"})
    assert nothing.status_code == 422


def test_create_with_phone_makes_an_sms_identity_and_records_consent(client, creator):
    user = create_user(
        client,
        creator,
        phone_e164="+14155551234",
        consent_state="OPT_IN",
        attributes={"city": "Austin"},
        tags=["vip", "vip", " beta "],
        timezone="America/Chicago",
        language="en",
        email="jane@example.com",
    )
    assert user["channel"] == "sms" and user["external_id"] == "+14155551234"
    assert [(i["channel"], i["external_id"]) for i in user["identities"]] == [("sms", "+14155551234")]
    assert user["tags"] == ["beta", "vip"]
    assert user["consent_state"] == "OPT_IN"
    assert [(e["previous_state"], e["state"], e["source"]) for e in user["consent_history"]] == [
        ("PENDING", "OPT_IN", "api")
    ]
    assert user["program_enrollments"] == []
    duplicate = client.post("/api/v1/users", headers=creator.headers, json={"phone_e164": "+14155551234"})
    assert duplicate.status_code == 409


def test_create_without_phone_uses_an_api_identity(client, creator):
    user = create_user(client, creator, external_id="crm-42", display_name="Kim")
    assert user["channel"] == "api" and user["identities"][0] == user["identities"][0] | {
        "channel": "api",
        "external_id": "crm-42",
    }


def test_list_filters_search_sort_and_paginate(client, creator):
    a = create_user(
        client, creator, phone_e164="+14155550001", display_name="Ann Lee", consent_state="OPT_IN", tags=["vip"]
    )
    b = create_user(client, creator, external_id="crm-7", email="bob@example.com", consent_state="STOP")
    c = create_user(client, creator, phone_e164="+14155550003", is_active=False)
    headers = creator.headers

    def ids(query):
        response = client.get(f"/api/v1/users?{query}", headers=headers)
        assert response.status_code == 200, response.json
        return [u["id"] for u in response.json["users"]]

    assert set(ids("")) == {a["id"], b["id"], c["id"]}
    assert ids("consent_state=OPT_IN") == [a["id"]]
    assert ids("tag=vip") == [a["id"]]
    assert ids("channel=api") == [b["id"]]
    assert ids("status=inactive") == [c["id"]]
    assert ids("search=ann") == [a["id"]]
    assert ids("search=bob@") == [b["id"]]
    assert ids("search=crm-7") == [b["id"]]
    assert ids("search=0003") == [c["id"]]
    assert ids("sort=created_at&order=asc") == [a["id"], b["id"], c["id"]]
    page = client.get("/api/v1/users?limit=2&page=2", headers=headers).json
    assert page["pagination"] == {"page": 2, "limit": 2, "total": 3, "pages": 2} and len(page["users"]) == 1
    assert client.get("/api/v1/users?sort=name", headers=headers).status_code == 422


def test_update_merges_attributes_replaces_tags_and_records_consent(client, creator):
    user = create_user(
        client, creator, phone_e164="+14155551234", attributes={"city": "Austin", "tier": "basic"}, tags=["a"]
    )
    response = client.put(
        f"/api/v1/users/{user['id']}",
        headers=creator.headers,
        json={
            "attributes": {"tier": "premium", "city": None},
            "tags": ["b"],
            "consent_state": "OPT_OUT",
            "language": "fr",
        },
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["attributes"] == {"tier": "premium"}
    assert body["tags"] == ["b"] and body["language"] == "fr"
    assert body["consent_state"] == "OPT_OUT" and body["consent_history"][0]["source"] == "api"


def test_detail_shows_memories_and_recent_interactions(app, client, creator):
    user = create_user(client, creator, phone_e164="+14155551234")
    with app.app_context():
        end_user = assistant.get_end_user(uuid.UUID(creator.creator_id), uuid.UUID(user["id"]))
        conversation = assistant.get_or_create_conversation(end_user, "s-1")
        assistant.add_message(conversation, "user", "Hi coach")
        assistant.add_message(conversation, "ai", "Hello!")
        assistant.remember(end_user, "goal", "marathon")
        db.session.commit()
    body = client.get(f"/api/v1/users/{user['id']}", headers=creator.headers).json
    assert body["total_interactions"] == 2
    assert {i["interaction_type"] for i in body["recent_interactions"]} == {"message_received", "message_sent"}
    assert [(m["key"], m["value"]) for m in body["memories"]] == [("goal", "marathon")]


def test_lookup_by_phone(client, creator):
    user = create_user(client, creator, phone_e164="+14155551234")
    found = client.get("/api/v1/users/lookup?phone=%2B14155551234", headers=creator.headers)
    assert found.status_code == 200 and found.json["id"] == user["id"]
    assert client.get("/api/v1/users/lookup?phone=%2B14155550000", headers=creator.headers).status_code == 404
    bad = client.get("/api/v1/users/lookup?phone=12345", headers=creator.headers)
    assert bad.status_code == 422 and bad.json["error"]["details"][0]["field"] == "phone"


def test_link_merges_the_widget_visitor_into_the_sms_user(app, client, creator):
    sms = create_user(
        client, creator, phone_e164="+14155551234", consent_state="OPT_IN", tags=["vip"], attributes={"city": "Austin"}
    )
    with app.app_context():
        creator_id = uuid.UUID(creator.creator_id)
        visitor = assistant.get_or_create_end_user(creator_id, "web", "visitor-1")
        visitor.display_name = "Sam"
        visitor.attributes = {"city": "Paris", "plan": "pro"}
        conversation = assistant.get_or_create_conversation(visitor, "s-1")
        assistant.add_message(conversation, "user", "Hello from the widget")
        assistant.remember(visitor, "goal", "5k")
        db.session.commit()
        visitor_id = str(visitor.id)
    client.put(
        f"/api/v1/users/{visitor_id}", headers=creator.headers, json={"tags": ["vip", "web"], "consent_state": "STOP"}
    )
    response = client.post(
        f"/api/v1/users/{sms['id']}/link", headers=creator.headers, json={"other_user_id": visitor_id}
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert {(i["channel"], i["external_id"]) for i in body["identities"]} == {
        ("sms", "+14155551234"),
        ("web", "visitor-1"),
    }
    assert body["tags"] == ["vip", "web"]
    assert body["attributes"] == {"city": "Austin", "plan": "pro"}
    assert body["display_name"] == "Sam"
    assert body["total_interactions"] == 1 and body["memories"][0]["value"] == "5k"
    assert body["consent_state"] == "STOP"  # the more protective consent is kept
    assert {e["source"] for e in body["consent_history"]} >= {"api", "link"}
    assert client.get(f"/api/v1/users/{visitor_id}", headers=creator.headers).status_code == 404
    with app.app_context():  # the widget visitor is now found as the merged user
        again = assistant.get_or_create_end_user(uuid.UUID(creator.creator_id), "web", "visitor-1")
        assert str(again.id) == sms["id"]


def test_delete_removes_the_user_and_what_hangs_on_them(app, client, creator):
    user = create_user(client, creator, phone_e164="+14155551234", tags=["vip"], consent_state="OPT_IN")
    with app.app_context():
        end_user = assistant.get_end_user(uuid.UUID(creator.creator_id), uuid.UUID(user["id"]))
        assistant.add_message(assistant.get_or_create_conversation(end_user, "s"), "user", "hi")
        db.session.commit()
    assert client.delete(f"/api/v1/users/{user['id']}", headers=creator.headers).status_code == 204
    assert client.get(f"/api/v1/users/{user['id']}", headers=creator.headers).status_code == 404
    assert client.get("/api/v1/conversations", headers=creator.headers).json["pagination"]["total"] == 0
    again = create_user(client, creator, phone_e164="+14155551234")  # its identity went with it
    assert again["consent_state"] == "PENDING" and again["tags"] == []


def test_agents_read_users_but_do_not_change_them(client, creator, make_member):
    user = create_user(client, creator, phone_e164="+14155551234")
    agent = make_member(creator, "agent")
    assert client.get(f"/api/v1/users/{user['id']}", headers=agent.headers).status_code == 200
    assert client.put(f"/api/v1/users/{user['id']}", headers=agent.headers, json={"language": "de"}).status_code == 403
    assert client.post("/api/v1/users", headers=agent.headers, json={"phone_e164": "+14155550000"}).status_code == 403


def test_another_creators_users_are_404_and_never_counted(client, two_creators):
    alice, bob = two_creators
    user = create_user(client, alice, phone_e164="+14155551234")
    mine = create_user(client, bob, phone_e164="+14155559999")
    for method, path in [
        ("get", f"/api/v1/users/{user['id']}"),
        ("put", f"/api/v1/users/{user['id']}"),
        ("delete", f"/api/v1/users/{user['id']}"),
        ("post", f"/api/v1/users/{mine['id']}/link"),
    ]:
        body = {"other_user_id": user["id"]} if path.endswith("/link") else {}
        assert getattr(client, method)(path, headers=bob.headers, json=body).status_code == 404, path
    assert client.get("/api/v1/users/lookup?phone=%2B14155551234", headers=bob.headers).status_code == 404
    assert client.get("/api/v1/users", headers=bob.headers).json["pagination"]["total"] == 1
    # the same phone is free in another workspace
    create_user(client, bob, phone_e164="+14155551234")
