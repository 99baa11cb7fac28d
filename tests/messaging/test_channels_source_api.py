"""A client written from creator-hub-api.md "Channel Management API": its example bodies, posted
verbatim, work, and the answers carry the fields it documents."""

import json
import uuid

from app.extensions import db
from app.messaging.crypto import decrypt_secrets
from app.models import Channel, ChannelAddress
from tests.messaging.conftest import account_sid

# Verbatim from creator-hub-api.md, "Create Channel".
CREATE_BODY = """
{
  "channel_type": "whatsapp",
  "channel_name": "WhatsApp Business",
  "configuration": {
    "phone_number": "+1234567890",
    "business_account_id": "string",
    "access_token": "string",
    "webhook_verify_token": "string"
  }
}
"""

# Verbatim from creator-hub-api.md, "Update Channel Configuration".
UPDATE_BODY = """
{
  "channel_name": "Updated Channel Name",
  "configuration": {
    "widget_color": "#28a745",
    "welcome_message": "Welcome! I'm here to help with your coaching journey."
  }
}
"""

LISTED_FIELDS = {
    "id",
    "channel_type",
    "channel_name",
    "status",
    "configuration",
    "created_at",
    "user_count",
    "last_activity_at",
}


def send(client, method, path, account, body: str):
    headers = {**account.headers, "Content-Type": "application/json"}
    return client.open(path, method=method, headers=headers, data=body)


def test_the_create_example_makes_a_pending_whatsapp_channel(app, client, creator):
    response = send(client, "POST", "/api/v1/channels", creator, CREATE_BODY)
    assert response.status_code == 201, response.json
    channel = response.json
    assert channel["channel_type"] == "whatsapp" and channel["channel_name"] == "WhatsApp Business"
    assert channel["status"] == "pending_verification"
    assert channel["configuration"]["phone_number"] == "+1234567890"
    assert channel["configuration"]["webhook_url"] == "http://localhost/webhooks/inbound"
    assert channel["configuration"]["business_account_id"] == "string"
    assert uuid.UUID(channel["id"]) and channel["created_at"].endswith("Z")
    # Credentials are stored encrypted and never echoed.
    assert "access_token" not in json.dumps(channel) and "webhook_verify_token" not in json.dumps(channel)
    with app.app_context():
        row = db.session.get(Channel, uuid.UUID(channel["id"]))
        assert "string" not in row.encrypted_secrets and "access_token" not in json.dumps(row.configuration)
        assert decrypt_secrets(row.encrypted_secrets) == {"auth_token": "string", "webhook_verify_token": "string"}
        assert db.session.query(ChannelAddress).count() == 0  # nothing claimed before Twilio confirms it

    [listed] = client.get("/api/v1/channels", headers=creator.headers).json["channels"]
    assert LISTED_FIELDS <= set(listed) and listed["user_count"] == 0 and listed["last_activity_at"] is None
    assert "string" not in json.dumps({k: v for k, v in listed["configuration"].items() if k != "business_account_id"})


def test_the_update_example_changes_the_widget(client, creator):
    web = client.post("/api/v1/channels", headers=creator.headers, json={"channel_type": "web", "channel_name": "Site"})
    response = send(client, "PUT", f"/api/v1/channels/{web.json['id']}", creator, UPDATE_BODY)
    assert response.status_code == 200, response.json
    assert response.json["channel_name"] == "Updated Channel Name"
    assert response.json["configuration"]["widget_color"] == "#28a745"
    assert response.json["configuration"]["welcome_message"].startswith("Welcome! I'm here to help")
    [listed] = client.get("/api/v1/channels", headers=creator.headers).json["channels"]
    assert LISTED_FIELDS <= set(listed) and listed["status"] == "active"


def test_the_source_shape_with_real_twilio_values_verifies(app, client, creator, twilio):
    """The same shape, filled in for Twilio: the business account is the account SID, the access token its
    auth token."""
    sid, token = account_sid(4242), "f" * 32
    twilio.add_account(sid, token, ["+15550001111"])
    body = json.loads(CREATE_BODY)
    body["configuration"].update(phone_number="+15550001111", business_account_id=sid, access_token=token)
    created = client.post("/api/v1/channels", headers=creator.headers, json=body).json
    assert created["configuration"]["account_sid"] == sid and created["has_credentials"] is True
    verified = client.post(f"/api/v1/channels/{created['id']}/verify", headers=creator.headers).json
    assert verified["status"] == "active", verified
    with app.app_context():
        assert [a.address for a in db.session.query(ChannelAddress)] == ["whatsapp:+15550001111"]
