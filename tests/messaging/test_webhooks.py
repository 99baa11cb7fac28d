"""Twilio's inbound and status callbacks: signatures fail closed, each message once, keywords, replies."""

import threading
import uuid

import pytest

from app.extensions import db
from app.models import Conversation, EndUser, Message
from app.models.messaging import OutboxStatus
from tests.messaging.conftest import inbound_params, signed_post


@pytest.fixture
def line(creator, make_twilio_channel):
    channel, token = make_twilio_channel(creator, "sms", "+15550001111")
    return channel, token


def test_signed_inbound_is_answered_by_sms(client, line, twilio, run_jobs, outbox_rows, inbound_rows):
    _, token = line
    response = signed_post(client, "/webhooks/inbound", inbound_params(body="How do I start running?"), token)
    assert response.status_code == 200
    assert response.data.endswith(b"<Response></Response>")
    run_jobs()
    [event] = inbound_rows()
    assert event.kind == "message" and event.processed_at is not None
    [row] = outbox_rows()
    assert row.status == OutboxStatus.SENT and row.source == "ai_reply" and row.message_id is not None
    [sent] = twilio.sent
    assert (sent["to"], sent["from"]) == ("+15557654321", "+15550001111")
    assert sent["status_callback"] == "http://localhost/webhooks/status"
    assert sent["sid"] == row.provider_sid


def test_whatsapp_is_answered_on_whatsapp(app, client, creator, make_twilio_channel, twilio, run_jobs, rows):
    _, token = make_twilio_channel(creator, "whatsapp", "+15550002222")
    params = inbound_params(to="+15550002222", body="Hi coach", whatsapp=True)
    assert signed_post(client, "/webhooks/inbound", params, token).status_code == 200
    run_jobs()
    [sent] = twilio.sent
    assert (sent["to"], sent["from"]) == ("whatsapp:+15557654321", "whatsapp:+15550002222")
    [user] = rows(EndUser)
    assert (user.channel, user.external_id, user.phone_e164) == ("whatsapp", "+15557654321", "+15557654321")


@pytest.mark.parametrize("case", ["missing", "wrong", "changed", "unknown_number", "other_url", "nul_number"])
def test_bad_signatures_are_refused_and_nothing_stored(client, line, case, inbound_rows, rows):
    _, token = line
    params = inbound_params()
    if case == "missing":
        response = client.post("/webhooks/inbound", data=params)
    elif case == "wrong":
        response = signed_post(client, "/webhooks/inbound", params, token, signature="bm90IGEgc2lnbmF0dXJl")
    elif case == "changed":
        signature = (
            __import__("twilio.request_validator")
            .request_validator.RequestValidator(token)
            .compute_signature("http://localhost/webhooks/inbound", params)
        )
        response = signed_post(client, "/webhooks/inbound", params | {"Body": "changed"}, token, signature=signature)
    elif case == "nul_number":  # PostgreSQL cannot even look such a number up: it was a 500
        response = signed_post(client, "/webhooks/inbound", inbound_params(to="+1555\x00"), token)
        status = signed_post(client, "/webhooks/status", {"From": "+1\x00", "MessageSid": "SM1"}, token)
        assert status.status_code == 403
    elif case == "unknown_number":
        response = signed_post(client, "/webhooks/inbound", inbound_params(to="+15559999999"), token)
    else:
        response = signed_post(client, "/webhooks/inbound", params, token, url_base="https://evil.example.com")
    assert response.status_code == 403
    assert inbound_rows() == [] and rows(EndUser) == []


def test_tenant_a_token_does_not_open_tenant_b_number(client, two_creators, make_twilio_channel, inbound_rows):
    alice, bob = two_creators
    _, alice_token = make_twilio_channel(alice, "sms", "+15550001111")
    make_twilio_channel(bob, "sms", "+15550002222")
    response = signed_post(client, "/webhooks/inbound", inbound_params(to="+15550002222"), alice_token)
    assert response.status_code == 403
    assert inbound_rows() == []


def test_inbound_lands_with_the_number_owner(client, two_creators, make_twilio_channel, run_jobs, rows):
    alice, bob = two_creators
    make_twilio_channel(alice, "sms", "+15550001111")
    _, bob_token = make_twilio_channel(bob, "sms", "+15550002222")
    signed_post(client, "/webhooks/inbound", inbound_params(to="+15550002222"), bob_token)
    run_jobs()
    [user] = rows(EndUser)
    assert str(user.creator_id) == bob.creator_id


def test_a_duplicate_message_sid_takes_effect_once(client, line, twilio, run_jobs, inbound_rows, outbox_rows):
    _, token = line
    params = inbound_params(sid="SM" + "1" * 32)
    assert signed_post(client, "/webhooks/inbound", params, token).status_code == 200
    assert signed_post(client, "/webhooks/inbound", params, token).status_code == 200
    run_jobs()
    assert len(inbound_rows()) == 1 and len(outbox_rows()) == 1 and len(twilio.sent) == 1


def test_two_concurrent_copies_take_effect_once(app, line, backend, run_jobs, inbound_rows, outbox_rows):
    if backend != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    _, token = line
    params = inbound_params(sid="SM" + "2" * 32)
    barrier, codes = threading.Barrier(4), []

    def post():
        client = app.test_client()
        barrier.wait()
        codes.append(signed_post(client, "/webhooks/inbound", params, token).status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert codes == [200] * 4
    run_jobs()
    assert len(inbound_rows()) == 1 and len(outbox_rows()) == 1


@pytest.mark.parametrize("body", ["STOP", " stop ", "Stop!", "unsubscribe", "QUIT."])
def test_stop_keywords_opt_out_with_one_confirmation(client, line, twilio, run_jobs, rows, inbound_rows, body):
    _, token = line
    signed_post(client, "/webhooks/inbound", inbound_params(body=body), token)
    run_jobs()
    [user] = rows(EndUser)
    assert user.consent_state == "STOP"
    assert inbound_rows()[0].kind == "stop"
    [sent] = twilio.sent
    assert "unsubscribed" in sent["body"]
    assert [m.sender for m in rows(Message)] == ["user", "system"]  # never to the AI


def test_stop_please_is_ordinary_text(client, line, twilio, run_jobs, rows, inbound_rows):
    _, token = line
    signed_post(client, "/webhooks/inbound", inbound_params(body="STOP please"), token)
    run_jobs()
    assert inbound_rows()[0].kind == "message"
    assert rows(EndUser)[0].consent_state == "PENDING"
    assert "ai" in [m.sender for m in rows(Message)]


def test_start_and_help(client, line, twilio, run_jobs, rows):
    _, token = line
    for body in ("STOP", "help", "START"):
        signed_post(client, "/webhooks/inbound", inbound_params(body=body), token)
        run_jobs()
    assert rows(EndUser)[0].consent_state == "OPT_IN"
    bodies = [m["body"] for m in twilio.sent]
    assert len(bodies) == 3 and "Reply STOP" in bodies[1] and "subscribed again" in bodies[2]
    assert "ai" not in [m.sender for m in rows(Message)]


def test_after_stop_the_ai_stays_quiet_and_agent_replies_are_blocked(
    app, client, creator, line, twilio, run_jobs, rows, outbox_rows
):
    _, token = line
    signed_post(client, "/webhooks/inbound", inbound_params(body="STOP"), token)
    run_jobs()
    signed_post(client, "/webhooks/inbound", inbound_params(body="Are you there?"), token)
    run_jobs()
    assert "ai" not in [m.sender for m in rows(Message)]
    [conversation] = rows(Conversation)
    reply = client.post(
        f"/api/v1/conversations/{conversation.id}/reply", headers=creator.headers, json={"message": "Hi!"}
    )
    assert reply.status_code == 201, reply.json
    run_jobs()
    [blocked] = outbox_rows(source="agent_reply")
    assert blocked.status == OutboxStatus.BLOCKED and "STOP" in blocked.error_message
    assert len(twilio.sent) == 1  # the STOP confirmation only


def test_agent_reply_goes_out_by_sms_and_taken_over_conversations_skip_the_ai(
    client, creator, line, twilio, run_jobs, rows, outbox_rows
):
    _, token = line
    signed_post(client, "/webhooks/inbound", inbound_params(body="Hello"), token)
    run_jobs()
    [conversation] = rows(Conversation)
    client.post(f"/api/v1/conversations/{conversation.id}/reply", headers=creator.headers, json={"message": "Me here"})
    run_jobs()
    signed_post(client, "/webhooks/inbound", inbound_params(body="Great, thanks"), token)
    run_jobs()
    assert [m["body"] for m in twilio.sent][-1] == "Me here"
    assert len(outbox_rows(source="ai_reply")) == 1 and len(outbox_rows(source="agent_reply")) == 1
    assert rows(Message)[-1].content == "Great, thanks"


def _status(client, token, sid, status, error_code=None):
    params = {"MessageSid": sid, "MessageStatus": status, "From": "+15550001111", "To": "+15557654321"}
    if error_code:
        params["ErrorCode"] = error_code
    return signed_post(client, "/webhooks/status", params, token)


def test_status_callbacks_only_move_forward(client, line, twilio, run_jobs, outbox_rows):
    _, token = line
    signed_post(client, "/webhooks/inbound", inbound_params(), token)
    run_jobs()
    [row] = outbox_rows()
    for status in ("delivered", "sent", "queued", "sending"):
        assert _status(client, token, row.provider_sid, status).status_code == 200
    [row] = outbox_rows()
    assert row.status == "delivered" and row.delivered_at is not None


def test_failed_status_keeps_its_error_code(client, line, twilio, run_jobs, outbox_rows):
    _, token = line
    signed_post(client, "/webhooks/inbound", inbound_params(), token)
    run_jobs()
    [row] = outbox_rows()
    _status(client, token, row.provider_sid, "undelivered", "30003")
    _status(client, token, row.provider_sid, "sent")
    [row] = outbox_rows()
    assert (row.status, row.error_code) == ("undelivered", "30003")


def test_status_for_an_unknown_sid_is_accepted_and_ignored(client, line, outbox_rows):
    _, token = line
    response = _status(client, token, "SM" + uuid.uuid4().hex, "delivered")
    assert response.status_code == 200 and response.json == {"status": "received"}
    assert outbox_rows() == []


def test_status_callback_needs_a_signature(client, line):
    assert client.post("/webhooks/status", data={"MessageSid": "SMx", "From": "+15550001111"}).status_code == 403


def test_channel_analytics_count_real_rows(client, creator, line, run_jobs):
    channel, token = line
    for body in ("one", "two"):
        signed_post(client, "/webhooks/inbound", inbound_params(body=body), token)
    run_jobs()
    data = client.get(f"/api/v1/channels/{channel['id']}/analytics", headers=creator.headers).json
    assert data["messages"] == {"inbound": 2, "outbound": 2, "total": 4}
    assert data["unique_users"] == 1 and data["new_users"] == 1
    assert data["daily"][0]["inbound"] == 2


def test_keyword_reply_is_in_the_conversation(app, client, line, run_jobs):
    _, token = line
    signed_post(client, "/webhooks/inbound", inbound_params(body="HELP"), token)
    run_jobs()
    with app.app_context():
        assert db.session.query(Message).filter_by(sender="system").count() == 1


def test_signed_text_with_nul_bytes_is_stored_without_them(client, line, run_jobs, inbound_rows):
    _, token = line
    params = inbound_params(body="rest\x00 days?") | {"NumMedia": "9" * 30}
    assert signed_post(client, "/webhooks/inbound", params, token).status_code == 200
    [event] = inbound_rows()
    assert event.body == "rest days?" and event.num_media == 100
