"""Twilio channels through /api/v1/channels: numbers claimed only once Twilio confirms them, encrypted
token, webhook URLs, verify with readable reasons, edit and remove, analytics."""

import uuid

import pytest

from app.extensions import db
from app.messaging.channels import auth_token
from app.models import Channel, ChannelAddress, InboundEvent
from tests.messaging.conftest import account_sid, inbound_params, signed_post, unreachable_url


def test_sms_channel_stores_token_encrypted_and_never_returns_it(app, client, creator, make_twilio_channel):
    channel, token = make_twilio_channel(creator, "sms", "+15550001111")
    assert "auth_token" not in str(channel) and token not in str(channel)
    assert channel["has_credentials"] is True
    assert channel["webhook_urls"] == {
        "inbound": "http://localhost/webhooks/inbound",
        "status": "http://localhost/webhooks/status",
    }
    assert channel["configuration"]["phone_numbers"] == ["+15550001111"]
    with app.app_context():
        row = db.session.get(Channel, uuid.UUID(channel["id"]))
        assert token not in row.encrypted_secrets
        assert [a.address for a in db.session.query(ChannelAddress).filter_by(channel_id=row.id)] == ["+15550001111"]
    listed = client.get("/api/v1/channels", headers=creator.headers).json["channels"]
    assert token not in str(listed)


def test_whatsapp_numbers_are_whatsapp_addresses(app, creator, make_twilio_channel):
    channel, _ = make_twilio_channel(creator, "whatsapp", "+15550002222")
    with app.app_context():
        addresses = db.session.query(ChannelAddress).filter_by(channel_id=uuid.UUID(channel["id"])).all()
        assert [a.address for a in addresses] == ["whatsapp:+15550002222"]


def test_webhook_urls_follow_the_proxy(make_app, creator, make_twilio_channel, twilio):
    proxied = make_app(PROXY_FIX_HOPS=1)
    response = proxied.test_client().post(
        "/api/v1/channels",
        headers={**creator.headers, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "hub.example.com"},
        json={
            "channel_type": "sms",
            "channel_name": "SMS",
            "configuration": {"account_sid": account_sid(999), "phone_numbers": ["+15550009999"]},
            "secrets": {"auth_token": "a" * 32},
        },
    )
    assert response.status_code == 201, response.json
    assert response.json["webhook_urls"]["inbound"] == "https://hub.example.com/webhooks/inbound"


def test_an_unverified_number_blocks_nobody(client, two_creators, make_twilio_channel, twilio, run_jobs, rows):
    """The squatter types the owner's number first: it claims nothing, the owner connects and verifies it."""
    alice, mallory = two_creators
    squatter, _ = make_twilio_channel(mallory, "sms", "+15559990000")  # Mallory's real account and number
    taken = client.put(
        f"/api/v1/channels/{squatter['id']}",
        headers=mallory.headers,
        json={"configuration": {"phone_numbers": ["+15550001111"]}},
    )
    assert taken.status_code == 200 and taken.json["status"] == "pending_verification"
    owner, token = make_twilio_channel(alice, "sms", "+15550001111")
    assert owner["status"] == "active" and owner["configuration"]["phone_numbers"] == ["+15550001111"]
    refused = client.post(f"/api/v1/channels/{squatter['id']}/verify", headers=mallory.headers).json
    assert refused["status"] == "failed"
    assert refused["status_reason"] == "+15550001111 is not a number of this Twilio account."
    response = signed_post(client, "/webhooks/inbound", inbound_params(to="+15550001111"), token)
    assert response.status_code == 200
    run_jobs()
    [event] = rows(InboundEvent)
    assert str(event.creator_id) == alice.creator_id


def test_a_verified_number_is_claimed_once_and_says_nothing_of_the_other_tenant(
    app, client, two_creators, make_twilio_channel, twilio
):
    alice, bob = two_creators
    first, _ = make_twilio_channel(alice, "sms", "+15550001111")
    private = {"channel_name": "Alice private line"}
    assert (
        client.patch(f"/api/v1/channels/{first['id']}", headers=alice.headers, json=private).json["status"] == "active"
    )
    # Bob's account owns the number too (say it moved accounts): verification still cannot take it.
    second, _ = make_twilio_channel(bob, "sms", "+15550001111", verify=False)
    failed = client.post(f"/api/v1/channels/{second['id']}/verify", headers=bob.headers).json
    assert failed["status"] == "failed"
    assert failed["status_reason"] == "+15550001111 is already connected to another Creator Hub workspace."
    assert first["id"] not in str(failed) and "Alice" not in str(failed)
    # Alice's own second channel is told which of her channels has it.
    mine, _ = make_twilio_channel(alice, "sms", "+15550001111", verify=False)
    again = client.post(f"/api/v1/channels/{mine['id']}/verify", headers=alice.headers).json
    assert again["status"] == "failed" and "your channel “Alice private line”" in again["status_reason"]
    with app.app_context():
        holders = db.session.query(ChannelAddress.channel_id).filter_by(address="+15550001111").all()
        assert [str(h.channel_id) for h in holders] == [first["id"]]


def test_a_pending_number_receives_nothing(client, creator, make_twilio_channel, inbound_rows):
    _, token = make_twilio_channel(creator, "sms", "+15550001111", verify=False)
    response = signed_post(client, "/webhooks/inbound", inbound_params(to="+15550001111"), token)
    assert response.status_code == 403
    assert inbound_rows() == []


def test_numbers_must_be_e164(client, creator):
    response = client.post(
        "/api/v1/channels",
        headers=creator.headers,
        json={
            "channel_type": "sms",
            "channel_name": "SMS",
            "configuration": {"account_sid": account_sid(5), "phone_numbers": ["555-1234"]},
            "secrets": {"auth_token": "c" * 32},
        },
    )
    assert response.status_code == 422
    assert "555-1234" in response.json["error"]["message"]


def test_verify_with_the_real_client(client, creator, make_twilio_channel, twilio):
    good, _ = make_twilio_channel(creator, "sms", "+15550001111")
    assert good["status"] == "active" and good["verified_at"].endswith("Z")
    asked = [(r.path.rsplit("/", 1)[-1], r.query.get("PhoneNumber")) for r in twilio.requests]
    assert asked[-2:] == [
        (f"{good['configuration']['account_sid']}.json", None),
        ("IncomingPhoneNumbers.json", "+15550001111"),
    ]
    bad, _ = make_twilio_channel(creator, "sms", "+15550003333", register=False)
    assert bad["status"] == "pending_verification"
    failed = client.post(f"/api/v1/channels/{bad['id']}/verify", headers=creator.headers).json
    assert failed["status"] == "failed"
    assert failed["status_reason"] == "Twilio refused these credentials (20003)."


def test_a_number_twilio_matches_only_partially_is_not_owned(client, creator, make_twilio_channel, twilio):
    channel, _ = make_twilio_channel(creator, "sms", "+1555000111", verify=False)
    twilio.add_number(channel["configuration"]["account_sid"], "+15550001119")  # contains +1555000111
    twilio.numbers[channel["configuration"]["account_sid"]].remove("+1555000111")
    failed = client.post(f"/api/v1/channels/{channel['id']}/verify", headers=creator.headers).json
    assert failed["status"] == "failed" and "+1555000111 is not a number" in failed["status_reason"]


def test_an_unreachable_twilio_is_explained_and_changes_nothing(app, client, creator, make_twilio_channel):
    channel, _ = make_twilio_channel(creator, "sms", "+15550001111")
    app.config["TWILIO_API_BASE"] = unreachable_url()
    checked = client.post(f"/api/v1/channels/{channel['id']}/verify", headers=creator.headers).json
    assert checked["status_reason"] == "Could not reach Twilio: check the network."
    assert checked["status"] == "active"  # a network failure neither verifies nor releases the number
    with app.app_context():
        assert [a.address for a in db.session.query(ChannelAddress)] == ["+15550001111"]


def test_credentials_missing_an_account_sid_are_explained(client, creator, twilio):
    response = client.post(
        "/api/v1/channels",
        headers=creator.headers,
        json={
            "channel_type": "sms",
            "channel_name": "SMS",
            "configuration": {"phone_number": "+15550001111", "access_token": "t" * 32},
        },
    )
    assert response.status_code == 201, response.json
    checked = client.post(f"/api/v1/channels/{response.json['id']}/verify", headers=creator.headers).json
    assert checked["status"] == "failed"
    assert checked["status_reason"].startswith("Add the Twilio account SID")


def test_put_changes_numbers_and_token_and_verifies_again(app, client, creator, make_twilio_channel, twilio):
    channel, _ = make_twilio_channel(creator, "sms", "+15550001111")
    sid = channel["configuration"]["account_sid"]
    response = client.put(
        f"/api/v1/channels/{channel['id']}",
        headers=creator.headers,
        json={"configuration": {"phone_numbers": ["+15550004444"]}, "secrets": {"auth_token": "d" * 32}},
    )
    assert response.status_code == 200, response.json
    assert response.json["configuration"]["phone_numbers"] == ["+15550004444"]
    assert response.json["status"] == "pending_verification"
    with app.app_context():
        assert db.session.query(ChannelAddress).count() == 0  # released until Twilio confirms again
    twilio.add_account(sid, "d" * 32, ["+15550004444"])
    verified = client.post(f"/api/v1/channels/{channel['id']}/verify", headers=creator.headers).json
    assert verified["status"] == "active"
    with app.app_context():
        assert [a.address for a in db.session.query(ChannelAddress)] == ["+15550004444"]


def test_patch_a_name_or_sending_setting_keeps_the_number(app, client, creator, make_twilio_channel):
    channel, _ = make_twilio_channel(creator, "sms", "+15550001111")
    same = dict(channel["configuration"])
    response = client.patch(
        f"/api/v1/channels/{channel['id']}",
        headers=creator.headers,
        json={
            "channel_name": "Coaching line",
            "configuration": {
                "account_sid": same["account_sid"],
                "phone_numbers": same["phone_numbers"],
                "messaging_service_sid": "MG" + "1" * 32,
            },
        },
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "active" and response.json["channel_name"] == "Coaching line"
    assert response.json["configuration"]["messaging_service_sid"] == "MG" + "1" * 32
    with app.app_context():
        assert [a.address for a in db.session.query(ChannelAddress)] == ["+15550001111"]


def test_sms_becomes_whatsapp_and_is_verified_again(app, client, creator, make_twilio_channel):
    channel, _ = make_twilio_channel(creator, "sms", "+15550001111")
    response = client.put(
        f"/api/v1/channels/{channel['id']}", headers=creator.headers, json={"channel_type": "whatsapp"}
    )
    assert response.json["channel_type"] == "whatsapp" and response.json["status"] == "pending_verification"
    client.post(f"/api/v1/channels/{channel['id']}/verify", headers=creator.headers)
    with app.app_context():
        assert [a.address for a in db.session.query(ChannelAddress)] == ["whatsapp:+15550001111"]
    to_web = client.put(f"/api/v1/channels/{channel['id']}", headers=creator.headers, json={"channel_type": "web"})
    assert to_web.status_code == 422 and to_web.json["error"]["details"][0]["field"] == "channel_type"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"configuration": {"phone_numbers": ["555-1234"]}}, "configuration.phone_numbers"),
        ({"configuration": {"account_sid": "nope"}}, "configuration.account_sid"),
        ({"configuration": {"widget_color": "#123456"}}, "configuration.widget_color"),
        (
            {"configuration": {"phone_number": "+15550002222", "phone_numbers": ["+15550002222"]}},
            "configuration.phone_number",
        ),
        (
            {"configuration": {"access_token": "a" * 32}, "secrets": {"auth_token": "b" * 32}},
            "configuration.access_token",
        ),
        ({"configuration": {"fax_number": "+15550002222"}}, "configuration.fax_number"),
        ({"secrets": {"auth_token": "has spaces in it"}}, "secrets.auth_token"),
        ({"creator_id": str(uuid.uuid4())}, "creator_id"),
    ],
)
def test_a_bad_edit_is_a_422_and_changes_nothing(app, client, creator, make_twilio_channel, body, field):
    channel, token = make_twilio_channel(creator, "sms", "+15550001111")
    response = client.put(f"/api/v1/channels/{channel['id']}", headers=creator.headers, json=body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "VALIDATION_ERROR"
    assert field in {d["field"] for d in response.json["error"]["details"]}
    after = client.get(f"/api/v1/channels/{channel['id']}", headers=creator.headers).json
    assert after["status"] == "active" and after["configuration"] == channel["configuration"]
    with app.app_context():
        row = db.session.get(Channel, uuid.UUID(channel["id"]))
        assert auth_token(row) == token
        assert [a.address for a in db.session.query(ChannelAddress)] == ["+15550001111"]


def test_delete_releases_the_number_and_keeps_the_outbox_readable(
    app, client, two_creators, make_twilio_channel, twilio, run_jobs, page_login
):
    alice, bob = two_creators
    channel, token = make_twilio_channel(alice, "sms", "+15550001111")
    assert signed_post(client, "/webhooks/inbound", inbound_params(body="Hi coach"), token).status_code == 200
    run_jobs()
    sent = client.get("/api/v1/outbox", headers=alice.headers).json["messages"]
    assert len(sent) == 1
    assert client.delete(f"/api/v1/channels/{channel['id']}", headers=bob.headers).status_code == 404
    assert client.delete(f"/api/v1/channels/{channel['id']}", headers=alice.headers).status_code == 204
    assert client.get("/api/v1/channels", headers=alice.headers).json["channels"] == []
    for method in (client.get, client.put, client.delete):
        assert method(f"/api/v1/channels/{channel['id']}", headers=alice.headers, json={}).status_code == 404
    assert client.post(f"/api/v1/channels/{channel['id']}/verify", headers=alice.headers).status_code == 404
    # The history: the same outbox rows, still naming their channel, filterable by it and by sms.
    assert client.get("/api/v1/outbox", headers=alice.headers).json["messages"] == sent
    assert len(client.get(f"/api/v1/outbox?channel={channel['id']}", headers=alice.headers).json["messages"]) == 1
    assert len(client.get("/api/v1/outbox?channel=sms", headers=alice.headers).json["messages"]) == 1
    with app.app_context():
        row = db.session.get(Channel, uuid.UUID(channel["id"]))
        assert row.status == "removed" and row.encrypted_secrets is None
        name = row.channel_name
    page_login(client, alice.email)
    assert f"{name} (removed)</option>" in client.get("/messaging/outbox").get_data(as_text=True)
    # The number is free: it stops receiving here, and its owner may connect it again.
    assert signed_post(client, "/webhooks/inbound", inbound_params(body="Hello?"), token).status_code == 403
    again, _ = make_twilio_channel(alice, "sms", "+15550001111")
    assert again["status"] == "active"


def test_the_chat_widget_is_not_removed(client, creator):
    web = client.post("/api/v1/channels", headers=creator.headers, json={"channel_type": "web", "channel_name": "Site"})
    response = client.delete(f"/api/v1/channels/{web.json['id']}", headers=creator.headers)
    assert response.status_code == 409 and response.json["error"]["code"] == "CONFLICT"


def test_twilio_fields_on_a_web_channel_are_refused(client, creator):
    body = {"channel_type": "web", "channel_name": "Site", "configuration": {"phone_number": "+15550001111"}}
    response = client.post("/api/v1/channels", headers=creator.headers, json=body)
    assert response.status_code == 422 and response.json["error"]["details"][0]["field"] == "configuration.phone_number"


def test_users_and_last_activity_per_channel(client, creator, make_twilio_channel, run_jobs):
    channel, token = make_twilio_channel(creator, "sms", "+15550001111")
    assert channel["user_count"] == 0 and channel["last_activity_at"] is None
    for sender in ("+15557654321", "+15557654322", "+15557654321"):
        signed_post(client, "/webhooks/inbound", inbound_params(from_=sender), token)
    run_jobs()
    [listed] = client.get("/api/v1/channels", headers=creator.headers).json["channels"]
    assert listed["user_count"] == 2 and listed["last_activity_at"].endswith("Z")


def test_enrolling_by_sms_asks_to_verify_the_number(client, creator, make_twilio_channel):
    from tests.programs.test_api import create_program, enroll
    from tests.programs.test_bad_input import message_flow

    program = create_program(client, creator, flow_definition=message_flow())
    assert client.post(f"/api/v1/programs/{program['id']}/publish", headers=creator.headers).status_code == 200
    user = client.post(
        "/api/v1/users", headers=creator.headers, json={"phone_e164": "+15557654321", "consent_state": "OPT_IN"}
    ).json
    none = enroll(client, creator, user["id"], program["id"], channel="sms")
    assert none.json["error"]["details"][0]["message"] == "Connect an SMS number first (Channels)."
    make_twilio_channel(creator, "sms", "+15550001111", register=False)
    pending = enroll(client, creator, user["id"], program["id"], channel="sms")
    assert pending.status_code == 422
    assert pending.json["error"]["details"][0]["message"] == (
        "Verify the number of “sms line” first (Channels): messages go out only from a verified number."
    )


def test_web_channel_still_works(client, creator):
    response = client.post(
        "/api/v1/channels",
        headers=creator.headers,
        json={"channel_type": "web", "channel_name": "Site", "configuration": {"widget_color": "#123456"}},
    )
    assert response.status_code == 201
    assert response.json["configuration"]["widget_color"] == "#123456"
    assert response.json["webhook_urls"] is None
    bad = client.post(
        "/api/v1/channels",
        headers=creator.headers,
        json={"channel_type": "web", "channel_name": "Site", "configuration": {"widget_color": "red"}},
    )
    assert bad.status_code == 422


def test_channels_of_another_creator_are_not_found(client, two_creators, make_twilio_channel):
    alice, bob = two_creators
    channel, _ = make_twilio_channel(alice, "sms", "+15550001111")
    url = f"/api/v1/channels/{channel['id']}"
    assert client.post(f"{url}/verify", headers=bob.headers).status_code == 404
    assert client.get(f"{url}/analytics", headers=bob.headers).status_code == 404
    assert client.get(url, headers=bob.headers).status_code == 404
    for method in (client.put, client.patch):
        response = method(url, headers=bob.headers, json={"channel_name": "Mine now"})
        assert response.status_code == 404 and response.json["error"]["code"] == "RESOURCE_NOT_FOUND"
    assert client.get(url, headers=alice.headers).json["channel_name"] == "sms line"
