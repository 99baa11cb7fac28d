"""The inbox through /api/v1/conversations: list, filters, search, detail, messages,
takeover (the AI pauses), agent replies pushed to the widget, hand back, close, isolation."""

import uuid

import pytest

from tests.inbox.conftest import chat, events


def conversations(client, account, query=""):
    response = client.get(f"/api/v1/conversations{query}", headers=account.headers)
    assert response.status_code == 200, response.json
    return response.json


def handover(client, account, conversation_id, action):
    return client.post(
        f"/api/v1/conversations/{conversation_id}/handover", headers=account.headers, json={"action": action}
    )


def reply(client, account, conversation_id, text):
    return client.post(
        f"/api/v1/conversations/{conversation_id}/reply", headers=account.headers, json={"message": text}
    )


def test_list_shows_newest_activity_first_with_preview_and_count(client, creator, make_conversation):
    older = make_conversation(creator, "web", "v-old", "First visitor here")
    newer = chat(client, creator, "Does the course cover hill training?")["conversation_id"]
    body = conversations(client, creator)
    assert [c["id"] for c in body["conversations"]] == [newer, older]
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 2, "pages": 1}
    first = body["conversations"][0]
    assert first["end_user"]["external_id"] == "visitor-1" and first["end_user"]["channel"] == "api"
    assert first["status"] == "waiting_for_human" and first["escalation_reason"] == "low confidence"
    assert first["message_count"] == 2 and first["last_message"]["sender"] == "ai"
    assert first["assigned_member"] is None and first["last_message_at"].endswith("Z")
    assert body["conversations"][1]["last_message"] == {
        "sender": "user",
        "text": "First visitor here",
        "created_at": body["conversations"][1]["last_message"]["created_at"],
    }


def test_filters_by_status_channel_and_assignee(client, creator, make_member, make_conversation):
    agent = make_member(creator, "agent")
    web = make_conversation(creator, "web", "v-web")
    sms = make_conversation(creator, "sms", "+15550001111")
    escalated = chat(client, creator, "Something nobody wrote about")["conversation_id"]
    assert handover(client, agent, web, "take_over").status_code == 200

    def ids(query, account=creator):
        return {c["id"] for c in conversations(client, account, query)["conversations"]}

    assert ids("?status=with_agent") == {web}
    assert ids("?status=waiting_for_human") == {escalated}
    assert ids("?status=active") == {sms}
    assert ids("?channel=sms") == {sms} and ids("?channel=web&status=with_agent") == {web}
    assert ids("?assignee=unassigned") == {sms, escalated}
    assert ids(f"?assignee={agent.member_id}") == {web}
    assert ids("?assignee=me", agent) == {web} and ids("?assignee=me") == set()
    client.post(f"/api/v1/conversations/{sms}/close", headers=creator.headers, json={"reason": "spam"})
    assert ids("?status=open") == {web, escalated} and ids("?status=closed") == {sms}


def test_search_matches_message_text_and_user_names(client, creator, make_conversation):
    shoes = make_conversation(creator, "web", "v-1", "Which SHOES do you recommend?")
    named = make_conversation(creator, "whatsapp", "+15550002222", "hi", display_name="Marta Lopez")
    make_conversation(creator, "web", "v-3", "100% committed to the plan")

    def ids(search):
        return {c["id"] for c in conversations(client, creator, f"?search={search}")["conversations"]}

    assert ids("shoes") == {shoes}
    assert ids("marta") == {named} and ids("5550002222") == {named}
    assert ids("%25") == {conversations(client, creator, "?search=committed")["conversations"][0]["id"]}
    assert ids("nothing-like-this") == set()


def test_detail_has_the_end_user_and_memories_and_messages_page_oldest_first(client, creator):
    conversation_id = chat(client, creator, "Hi! My name is Sam and I'm training for a half marathon.")[
        "conversation_id"
    ]
    chat(client, creator, "Another question about pacing")
    detail = client.get(f"/api/v1/conversations/{conversation_id}", headers=creator.headers).json
    assert detail["end_user"]["external_id"] == "visitor-1" and "profile_data" in detail["end_user"]
    assert {m["key"]: m["value"] for m in detail["memories"]}["name"] == "Sam"
    assert detail["message_count"] == 4 and detail["close_reason"] is None
    page = client.get(f"/api/v1/conversations/{conversation_id}/messages?limit=3", headers=creator.headers).json
    assert page["pagination"] == {"page": 1, "limit": 3, "total": 4, "pages": 2}
    assert [m["sender"] for m in page["messages"]] == ["user", "ai", "user"]
    assert page["messages"][0]["text"].startswith("Hi! My name is Sam")
    assert page["messages"][1]["answer_mode"] == "fallback"
    rest = client.get(f"/api/v1/conversations/{conversation_id}/messages?page=2&limit=3", headers=creator.headers).json
    assert [m["sender"] for m in rest["messages"]] == ["ai"]


def test_take_over_pauses_the_ai_and_tells_the_widget(client, creator, listen):
    conversation_id = chat(client, creator, "Can I talk to someone?")["conversation_id"]
    widget = listen(conversation_id)
    response = handover(client, creator, conversation_id, "take_over")
    assert response.status_code == 200
    assert response.json["status"] == "with_agent"
    assert response.json["assigned_member"] == {"id": creator.member_id, "full_name": "Alice Coach"}
    (event,) = events(widget)
    assert event["type"] == "handover_initiated" and event["agent_name"] == "Alice Coach"
    assert event["text"] == "Alice Coach joined the conversation"
    after = chat(client, creator, "Hello? Anyone?")
    assert after["response"] is None and after["status"] == "with_agent"
    messages = client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=creator.headers).json
    assert [(m["sender"], m["text"]) for m in messages["messages"]][2:] == [
        ("system", "Alice Coach joined the conversation"),
        ("user", "Hello? Anyone?"),
    ]


def test_agent_reply_is_stored_and_reaches_the_widget(client, creator, listen):
    conversation_id = chat(client, creator, "I hurt my knee, what now?")["conversation_id"]
    handover(client, creator, conversation_id, "take_over")
    widget = listen(conversation_id)
    response = reply(client, creator, conversation_id, "  Hi, I'm Alice. Rest it for two days.  ")
    assert response.status_code == 201
    message = response.json
    assert message["sender"] == "agent" and message["text"] == "Hi, I'm Alice. Rest it for two days."
    assert message["member_id"] == creator.member_id
    (event,) = events(widget)
    assert event == {
        "type": "message",
        "sender": "agent",
        "text": "Hi, I'm Alice. Rest it for two days.",
        "message_id": message["id"],
        "agent_id": creator.member_id,
        "agent_name": "Alice Coach",
        "created_at": message["created_at"],
        "timestamp": event["timestamp"],
    }
    stored = client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=creator.headers).json
    assert stored["messages"][-1]["id"] == message["id"]


def test_replying_takes_over_implicitly(client, creator, listen):
    conversation_id = chat(client, creator, "Is anybody there?")["conversation_id"]
    widget = listen(conversation_id)
    assert reply(client, creator, conversation_id, "Yes, I am here.").status_code == 201
    kinds = [e["type"] for e in events(widget, expect=2)]
    assert kinds == ["handover_initiated", "message"]
    detail = client.get(f"/api/v1/conversations/{conversation_id}", headers=creator.headers).json
    assert detail["status"] == "with_agent" and detail["assigned_member"]["id"] == creator.member_id
    assert chat(client, creator, "Great, thanks")["response"] is None


def test_hand_back_lets_the_ai_answer_again(client, creator, listen):
    conversation_id = chat(client, creator, "Talk to a human please")["conversation_id"]
    handover(client, creator, conversation_id, "take_over")
    widget = listen(conversation_id)
    response = handover(client, creator, conversation_id, "hand_back")
    assert response.status_code == 200 and response.json["status"] == "active"
    assert response.json["assigned_member"] is None and response.json["escalation_reason"] is None
    (event,) = events(widget)
    assert event["type"] == "status" and event["status"] == "active"
    assert handover(client, creator, conversation_id, "hand_back").status_code == 409  # the AI has it already
    assert chat(client, creator, "And one more question")["response"] is not None


def test_close_with_reason_and_summary(client, creator, listen):
    conversation_id = chat(client, creator, "Thanks, that is all")["conversation_id"]
    widget = listen(conversation_id)
    response = client.post(
        f"/api/v1/conversations/{conversation_id}/close",
        headers=creator.headers,
        json={"reason": "resolved", "summary": "Answered the question about rest days."},
    )
    assert response.status_code == 200
    closed = response.json
    assert closed["status"] == "closed" and closed["close_reason"] == "resolved"
    assert closed["summary"] == "Answered the question about rest days."
    (event,) = events(widget)
    assert event["type"] == "status" and event["status"] == "closed" and "resolved" not in str(event)
    again = client.post(f"/api/v1/conversations/{conversation_id}/close", headers=creator.headers, json={"reason": "x"})
    assert again.status_code == 409 and again.json["error"]["code"] == "CONFLICT"
    assert reply(client, creator, conversation_id, "late").status_code == 409
    # The user writes again: the conversation reopens and the AI answers.
    assert chat(client, creator, "One more thing")["status"] in ("active", "waiting_for_human")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("reply", {"message": ""}, "message"),
        ("reply", {}, "message"),
        ("reply", {"message": "x" * 4001}, "message"),
        ("handover", {"action": "steal"}, "action"),
        ("handover", {}, "action"),
        ("close", {"summary": "no reason given"}, "reason"),
        ("close", {"reason": ""}, "reason"),
    ],
)
def test_bad_input_is_422_with_the_field_and_changes_nothing(client, creator, path, body, field):
    conversation_id = chat(client, creator, "Hello")["conversation_id"]
    response = client.post(f"/api/v1/conversations/{conversation_id}/{path}", headers=creator.headers, json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "VALIDATION_ERROR"
    assert field in {d["field"] for d in response.json["error"]["details"]}
    detail = client.get(f"/api/v1/conversations/{conversation_id}", headers=creator.headers).json
    assert detail["status"] == "waiting_for_human" and detail["message_count"] == 2


def test_whitespace_only_reply_is_422(client, creator):
    conversation_id = chat(client, creator, "Hello")["conversation_id"]
    response = reply(client, creator, conversation_id, "   \n ")
    assert response.status_code == 422 and response.json["error"]["details"][0]["field"] == "message"


@pytest.mark.parametrize("query", ["?status=open-ish", "?channel=fax", "?assignee=someone", "?limit=101"])
def test_bad_filters_are_422(client, creator, query):
    assert client.get(f"/api/v1/conversations{query}", headers=creator.headers).status_code == 422


def test_an_agent_works_the_inbox(client, creator, make_member):
    agent = make_member(creator, "agent")
    conversation_id = chat(client, creator, "Need help")["conversation_id"]
    assert conversations(client, agent)["pagination"]["total"] == 1
    assert client.get(f"/api/v1/conversations/{conversation_id}", headers=agent.headers).status_code == 200
    assert reply(client, agent, conversation_id, "Hi, Team agent here.").status_code == 201
    detail = client.get(f"/api/v1/conversations/{conversation_id}", headers=agent.headers).json
    assert detail["assigned_member"] == {"id": agent.member_id, "full_name": "Team agent"}
    closed = client.post(
        f"/api/v1/conversations/{conversation_id}/close", headers=agent.headers, json={"reason": "resolved"}
    )
    assert closed.status_code == 200


def test_a_reply_never_takes_a_conversation_from_a_colleague(client, creator, make_member):
    agent = make_member(creator, "agent")
    conversation_id = chat(client, creator, "Help")["conversation_id"]
    handover(client, agent, conversation_id, "take_over")
    refused = reply(client, creator, conversation_id, "Me too")
    assert refused.status_code == 409 and "Team agent has this conversation" in refused.json["error"]["message"]
    # Taking over is explicit, and then the reply goes through.
    assert handover(client, creator, conversation_id, "take_over").json["assigned_member"]["id"] == creator.member_id
    assert reply(client, creator, conversation_id, "I'll take it from here").status_code == 201


def test_an_api_key_replies_as_the_team(client, creator, listen):
    key = client.post("/api/v1/api-keys", headers=creator.headers, json={"name": "crm"}).json["key"]
    headers = {"X-API-Key": key}
    conversation_id = chat(client, creator, "Hello")["conversation_id"]
    widget = listen(conversation_id)
    response = client.post(
        f"/api/v1/conversations/{conversation_id}/reply", headers=headers, json={"message": "From our CRM"}
    )
    assert response.status_code == 201 and response.json["member_id"] is None
    assert events(widget, expect=2)[-1]["agent_name"] == "Alice Coach Coaching"
    assert client.get("/api/v1/conversations?assignee=me", headers=headers).status_code == 422


def test_another_creators_conversations_are_404_everywhere_and_never_listed(client, two_creators, listen):
    alice, bob = two_creators
    bobs = chat(client, bob, "Bob's visitor secret: PELICAN")["conversation_id"]
    widget = listen(bobs)
    for method, path, body in [
        ("get", "", None),
        ("get", "/messages", None),
        ("post", "/reply", {"message": "hi"}),
        ("post", "/handover", {"action": "take_over"}),
        ("post", "/handover", {"action": "hand_back"}),
        ("post", "/close", {"reason": "resolved"}),
    ]:
        response = getattr(client, method)(f"/api/v1/conversations/{bobs}{path}", headers=alice.headers, json=body)
        assert response.status_code == 404, path
        assert response.json["error"]["code"] == "RESOURCE_NOT_FOUND"
    assert conversations(client, alice)["conversations"] == []
    assert conversations(client, alice, "?search=PELICAN")["conversations"] == []
    bob_member = bob.member_id
    assert conversations(client, alice, f"?assignee={bob_member}")["conversations"] == []
    assert events(widget, wait=0.3) == []  # nothing reached Bob's visitor
    detail = client.get(f"/api/v1/conversations/{bobs}", headers=bob.headers).json
    assert detail["status"] == "waiting_for_human" and detail["message_count"] == 2
    assert client.get(f"/api/v1/conversations/{uuid.uuid4()}", headers=alice.headers).status_code == 404


def test_inbox_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"get"} <= set(paths["/api/v1/conversations"])
    assert "post" in paths["/api/v1/conversations/{conversation_id}/reply"]
    assert "post" in paths["/api/v1/conversations/{conversation_id}/handover"]


def test_the_closing_note_names_the_reason_in_words(client, creator):
    conversation_id = chat(client, creator, "Thanks, bye")["conversation_id"]
    closed = client.post(
        f"/api/v1/conversations/{conversation_id}/close", headers=creator.headers, json={"reason": "no_response"}
    )
    assert closed.status_code == 200
    messages = client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=creator.headers).json
    assert messages["messages"][-1]["text"].endswith("closed the conversation (no response)")
