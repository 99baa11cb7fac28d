"""Reporting: message status report, inbound monitoring, the outbox API and page, per tenant."""

import pytest

from tests.messaging.conftest import inbound_params, signed_post


@pytest.fixture
def traffic(client, creator, make_twilio_channel, twilio, run_jobs):
    channel, token = make_twilio_channel(creator, "sms", "+15550001111")
    signed_post(client, "/webhooks/inbound", inbound_params(body="Hello"), token)
    signed_post(client, "/webhooks/inbound", inbound_params(body="STOP", from_="+15550009876"), token)
    run_jobs()
    sid = twilio.sent[0]["sid"]
    params = {"MessageSid": sid, "MessageStatus": "delivered", "From": "+15550001111", "To": "+15557654321"}
    signed_post(client, "/webhooks/status", params, token)
    return channel


def test_status_report_with_delivery_rate(client, creator, traffic):
    data = client.get("/api/v1/reporting/messages/status", headers=creator.headers).json
    assert data["summary"]["total"] == 2 and data["summary"]["delivered"] == 1
    assert data["summary"]["delivery_rate"] == 0.5
    delivered = client.get("/api/v1/reporting/messages/status?status=delivered", headers=creator.headers).json
    assert [m["status"] for m in delivered["messages"]] == ["delivered"]
    future = client.get("/api/v1/reporting/messages/status?start_date=2999-01-01T00:00:00Z", headers=creator.headers)
    assert future.json["summary"]["total"] == 0


def test_inbound_monitoring_counts_stop_commands(client, creator, traffic):
    data = client.get("/api/v1/monitoring/inbound?hours=1", headers=creator.headers).json
    assert data["summary"]["total"] == 2 and data["summary"]["stop_commands"] == 1
    assert data["summary"]["unique_senders"] == 2 and len(data["events"]) == 2


def test_outbox_filters(client, creator, traffic):
    all_rows = client.get("/api/v1/outbox", headers=creator.headers).json["messages"]
    assert len(all_rows) == 2
    by_channel = client.get(f"/api/v1/outbox?channel={traffic['id']}", headers=creator.headers).json
    assert len(by_channel["messages"]) == 2
    assert client.get("/api/v1/outbox?channel=whatsapp", headers=creator.headers).json["messages"] == []
    user = all_rows[0]["user_id"]
    assert len(client.get(f"/api/v1/outbox?user={user}", headers=creator.headers).json["messages"]) == 1
    assert client.get("/api/v1/outbox?status=nope", headers=creator.headers).status_code == 422


def test_other_tenants_see_nothing(client, two_creators, traffic):
    _, bob = two_creators
    assert client.get("/api/v1/outbox", headers=bob.headers).json["messages"] == []
    assert client.get("/api/v1/monitoring/inbound", headers=bob.headers).json["summary"]["total"] == 0


def test_outbox_page_shows_failures_and_inbound(app, client, creator, page_login, traffic, twilio, run_jobs):
    page_login(client, creator.email)
    html = client.get("/messaging/outbox").get_data(as_text=True)
    assert "delivery rate 50.0%" in html and "+15550009876" in html and "STOP" in html
    filtered = client.get("/messaging/outbox?status=failed").get_data(as_text=True)
    assert "No outbound messages match these filters" in filtered
