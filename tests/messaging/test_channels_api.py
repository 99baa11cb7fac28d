"""Twilio channels through /api/v1/channels: numbers, encrypted token, webhook URLs, verify, analytics."""

import uuid

from app.extensions import db
from app.models import Channel, ChannelAddress
from tests.messaging.conftest import account_sid


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


def test_a_number_of_another_channel_is_refused(two_creators, make_twilio_channel, client):
    alice, bob = two_creators
    make_twilio_channel(alice, "sms", "+15550001111")
    response = client.post(
        "/api/v1/channels",
        headers=bob.headers,
        json={
            "channel_type": "sms",
            "channel_name": "Mine",
            "configuration": {"account_sid": account_sid(77), "phone_numbers": ["+15550001111"]},
            "secrets": {"auth_token": "b" * 32},
        },
    )
    assert response.status_code == 409


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
    bad, _ = make_twilio_channel(creator, "sms", "+15550003333", register=False)
    ok = client.post(f"/api/v1/channels/{good['id']}/verify", headers=creator.headers)
    assert ok.status_code == 200 and ok.json["status"] == "active"
    failed = client.post(f"/api/v1/channels/{bad['id']}/verify", headers=creator.headers)
    assert failed.json["status"] == "failed" and "401" in failed.json["status_reason"]
    assert twilio.requests[0].auth[0] == good["configuration"]["account_sid"]


def test_put_changes_numbers_and_token(app, client, creator, make_twilio_channel):
    channel, _ = make_twilio_channel(creator, "sms", "+15550001111")
    response = client.put(
        f"/api/v1/channels/{channel['id']}",
        headers=creator.headers,
        json={"configuration": {"phone_numbers": ["+15550004444"]}, "secrets": {"auth_token": "d" * 32}},
    )
    assert response.status_code == 200, response.json
    assert response.json["configuration"]["phone_numbers"] == ["+15550004444"]
    assert response.json["status"] == "unverified"
    with app.app_context():
        assert [a.address for a in db.session.query(ChannelAddress)] == ["+15550004444"]


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
    assert client.post(f"/api/v1/channels/{channel['id']}/verify", headers=bob.headers).status_code == 404
    assert client.get(f"/api/v1/channels/{channel['id']}/analytics", headers=bob.headers).status_code == 404
