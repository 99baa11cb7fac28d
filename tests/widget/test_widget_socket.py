"""The chat widget: channel config and embed code, visitor sessions, and the
WebSocket protocol over a real connection to the live server."""

import json
import uuid

import pytest
import simple_websocket

from app.realtime import publish
from tests.widget.conftest import SITE, Visitor, connect, create_channel, session

__all__ = ["create_channel"]  # the browser tests import it from here


def test_embed_code_is_one_script_tag(client, creator):
    channel = create_channel(client, creator)
    code = client.get(f"/api/v1/channels/{channel['id']}/embed-code", headers=creator.headers).json["embed_code"]
    assert code.startswith("<script src=") and "/static/widget/widget.js" in code and channel["id"] in code
    assert client.get("/static/widget/widget.js").status_code == 200


def test_channel_config_is_validated(client, creator):
    bad = client.post(
        "/api/v1/channels",
        headers=creator.headers,
        json={
            "channel_type": "web",
            "channel_name": "W",
            "configuration": {"widget_color": "red", "allowed_origins": ["nope"]},
        },
    )
    assert bad.status_code == 422
    sms = client.post("/api/v1/channels", headers=creator.headers, json={"channel_type": "sms", "channel_name": "S"})
    assert sms.status_code == 422


def test_session_is_refused_to_other_websites_and_allowed_with_cors(client, creator):
    channel = create_channel(client, creator)
    allowed = session(client, channel)
    assert allowed.status_code == 200 and allowed.headers["Access-Control-Allow-Origin"] == SITE
    assert allowed.json["visitor_id"].startswith("v_") and allowed.json["token"]
    refused = session(client, channel, origin="https://evil.example")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "INSUFFICIENT_PERMISSIONS"


def test_visitor_chats_and_gets_a_grounded_answer_with_sources(client, live_server_url, coach_channel):
    visitor, hello, _ = connect(client, live_server_url, coach_channel)
    assert hello["type"] == "connection_established" and hello["config"]["title"] == "Ask Coach Ana"
    assert "allowed_origins" not in hello["config"]
    visitor.send(type="text", text="How many rest days should I take each week?")
    assert visitor.receive()["type"] == "typing"
    answer = visitor.until(lambda f: f["type"] == "message" and f.get("done"))
    assert answer["sender"] == "ai" and "two full rest days" in answer["text"]
    assert answer["answer_mode"] == "extractive" and answer["sources"][0]["document_title"] == "guide"
    visitor.close()


def test_conversation_survives_page_loads_and_reconnects(client, live_server_url, coach_channel):
    visitor, first, credential = connect(client, live_server_url, coach_channel)
    visitor.send(type="text", text="How many rest days should I take each week?")
    visitor.until(lambda f: f.get("done"))
    visitor.close()
    again, hello, renewed = connect(client, live_server_url, coach_channel, credential=credential)
    assert hello["conversation_id"] == first["conversation_id"]
    assert [m["sender"] for m in hello["history"]] == ["user", "ai"]
    again.close()
    third, hello, _ = connect(client, live_server_url, coach_channel, credential=renewed)  # the renewed one too
    assert hello["conversation_id"] == first["conversation_id"]
    third.close()


@pytest.mark.parametrize("case", ["missing", "forged", "other_channel", "bad_origin"])
def test_socket_refuses_bad_tokens_and_origins(client, creator, live_server_url, case):
    channel = create_channel(client, creator)
    other = create_channel(client, creator)
    token = {
        "missing": None,
        "forged": "not-a-token",
        "other_channel": session(client, other).json["token"],
        "bad_origin": session(client, channel).json["token"],
    }[case]
    visitor = Visitor(live_server_url, channel, token, origin="https://evil.example" if case == "bad_origin" else SITE)
    frame = visitor.receive()
    assert frame["type"] == "error" and frame["code"] == "CONNECTION_REFUSED"
    with pytest.raises(simple_websocket.ConnectionClosed):
        visitor.receive(timeout=5)


def test_expired_token_is_refused(app, client, creator, live_server_url):
    channel = create_channel(client, creator)
    token = session(client, channel).json["token"]
    app.config["WIDGET_TOKEN_TTL_SECONDS"] = -1
    try:
        frame = Visitor(live_server_url, channel, token).receive()
    finally:
        app.config["WIDGET_TOKEN_TTL_SECONDS"] = 600
    assert frame["code"] == "CONNECTION_REFUSED" and "expired" in frame["message"]


def test_bad_frames_get_an_error_frame_and_the_socket_stays_up(client, live_server_url, coach_channel):
    visitor, _, _ = connect(client, live_server_url, coach_channel)
    for raw in (
        "not json",
        json.dumps([1, 2]),
        json.dumps({"type": "explode"}),
        json.dumps({"type": "text", "text": ""}),
        json.dumps({"type": "text", "text": "x" * 20000}),
    ):
        visitor.ws.send(raw)
        frame = visitor.receive()
        assert frame["type"] == "error" and frame["code"] == "BAD_FRAME"
    visitor.send(type="ping")
    assert visitor.receive()["type"] == "pong"
    visitor.close()


def test_text_no_database_can_store_is_cleaned_and_answered(client, live_server_url, coach_channel, creator):
    """A lone UTF-16 surrogate or a NUL in a frame used to end the socket (the commit failed)."""
    visitor, _, _ = connect(client, live_server_url, coach_channel)
    visitor.ws.send('{"type": "text", "text": "rest days \\ud800 per week?"}')
    assert visitor.until(lambda f: f.get("done") or f["type"] == "error").get("done")
    visitor.ws.send('{"type": "text", "text": "and \\u0000 sleep?"}')
    assert visitor.until(lambda f: f.get("done") or f["type"] == "error").get("done")
    visitor.send(type="ping")
    assert visitor.receive()["type"] == "pong"
    visitor.close()
    [conversation] = client.get("/api/v1/conversations", headers=creator.headers).json["conversations"]
    said = client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=creator.headers).json
    asked = [m["text"] for m in said["messages"] if m["sender"] == "user"]
    assert asked == ["rest days \ufffd per week?", "and  sleep?"]


def test_a_flood_of_messages_is_rate_limited(app, client, live_server_url, coach_channel):
    app.config["WIDGET_MESSAGES_PER_MINUTE"] = 2
    try:
        visitor, _, _ = connect(client, live_server_url, coach_channel)
        for _ in range(2):
            visitor.send(type="text", text="How many rest days per week?")
            visitor.until(lambda f: f.get("done"))
        visitor.send(type="text", text="And again?")
        frame = visitor.receive()
    finally:
        app.config["WIDGET_MESSAGES_PER_MINUTE"] = 20
    assert frame["type"] == "error" and frame["code"] == "RATE_LIMITED"


def test_talk_to_a_human_and_an_agent_reply_arrives_through_pubsub(app, client, live_server_url, coach_channel):
    visitor, hello, _ = connect(client, live_server_url, coach_channel)
    visitor.send(type="handover_request")
    frame = visitor.receive()
    assert frame["type"] == "handover_request" and frame["status"] == "waiting_for_human"
    with app.app_context():  # what the inbox does, possibly in another process
        publish(hello["conversation_id"], {"type": "message", "sender": "agent", "text": "Hi, Ana here!"})
    agent = visitor.until(lambda f: f["type"] == "message" and f["sender"] == "agent")
    assert agent["text"] == "Hi, Ana here!"
    visitor.close()


def test_history_names_the_agent_and_survives_a_context_reset(app, client, creator, live_server_url, coach_channel):
    visitor, hello, credential = connect(client, live_server_url, coach_channel)
    visitor.send(type="text", text="How many rest days should I take each week?")
    visitor.until(lambda f: f.get("done"))
    conversation_id = hello["conversation_id"]
    reply = client.post(
        f"/api/v1/conversations/{conversation_id}/reply", headers=creator.headers, json={"message": "Hi, Alice here."}
    )
    assert reply.status_code == 201
    visitor.close()
    with app.app_context():  # what POST /chat/sessions/<id>/reset does
        from app.assistant import services as assistant
        from app.extensions import db
        from app.models import Conversation

        assistant.reset_context(db.session.get(Conversation, uuid.UUID(conversation_id)))
    again, hello, _ = connect(client, live_server_url, coach_channel, credential=credential)
    assert hello["history"] == []  # the reset hides what came before it
    again.send(type="text", text="Thanks!")
    again.until(lambda f: f["type"] == "status" or f.get("done"))
    again.close()
    third, hello, _ = connect(client, live_server_url, coach_channel, credential=credential)
    assert [m["text"] for m in hello["history"]] == ["Thanks!"]  # but not what came after it
    third.close()


def test_an_agents_reply_in_the_history_carries_their_name(client, creator, live_server_url, coach_channel):
    visitor, hello, credential = connect(client, live_server_url, coach_channel)
    client.post(
        f"/api/v1/conversations/{hello['conversation_id']}/reply",
        headers=creator.headers,
        json={"message": "Hi, Alice here."},
    )
    visitor.close()
    again, hello, _ = connect(client, live_server_url, coach_channel, credential=credential)
    agent = [m for m in hello["history"] if m["sender"] == "agent"]
    assert agent and agent[0]["agent_name"] == "Alice Coach" and agent[0]["text"] == "Hi, Alice here."
    again.close()
