"""The Channels page: connect a Twilio number, see the webhook URLs, verify, edit and remove it."""

import re

from tests.conftest import csrf_token_from
from tests.messaging.conftest import account_sid, unreachable_url


def test_connect_and_verify_a_number_from_the_page(client, creator, page_login, twilio):
    twilio.add_account(account_sid(500), "pagetoken0000000000000000000000x", ["+15550005555"])
    page_login(client, creator.email)
    html = client.get("/channels/").get_data(as_text=True)
    assert "http://localhost/webhooks/inbound" in html
    form = {
        "csrf_token": csrf_token_from(html),
        "twilio-channel_type": "sms",
        "twilio-channel_name": "Texts",
        "twilio-account_sid": account_sid(500),
        "twilio-auth_token": "pagetoken0000000000000000000000x",
        "twilio-phone_number": "+15550005555",
    }
    page = client.post("/channels/twilio", data=form, follow_redirects=True).get_data(as_text=True)
    assert "+15550005555" in page and "pending verification" in page and "pagetoken" not in page
    channel_id = client.get("/api/v1/channels", headers=creator.headers).json["channels"][0]["id"]
    page = client.post(
        f"/channels/{channel_id}/verify", data={"csrf_token": csrf_token_from(page)}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Twilio confirmed the number is on your account: it is connected." in page


def edit_form(html: str, channel_id: str, channel_type: str = "sms", **changes) -> dict:
    """The edit form of a channel as the page fills it in (its inputs' values), with `changes`."""
    prefix = f"edit-{channel_id}-"
    fields = dict(re.findall(rf'name="({re.escape(prefix)}[a-z_]+)"[^>]*value="([^"]*)"', html))
    fields[prefix + "channel_type"] = channel_type
    fields.update({prefix + k: v for k, v in changes.items()})
    return fields


def test_edit_a_number_from_the_page_verifies_it_again(client, creator, page_login, make_twilio_channel, twilio):
    channel, _ = make_twilio_channel(creator, "sms", "+15550001111")
    twilio.add_number(channel["configuration"]["account_sid"], "+15550002222")
    page_login(client, creator.email)
    html = client.get("/channels/").get_data(as_text=True)
    form = edit_form(html, channel["id"], channel_name="Coaching texts", phone_numbers="+15550002222")
    page = client.post(f"/channels/{channel['id']}/edit", data=form, follow_redirects=True).get_data(as_text=True)
    assert "Twilio confirmed the number is on your account" in page
    [shown] = client.get("/api/v1/channels", headers=creator.headers).json["channels"]
    assert shown["channel_name"] == "Coaching texts" and shown["status"] == "active"
    assert shown["configuration"]["phone_numbers"] == ["+15550002222"]
    assert shown["has_credentials"] is True  # a blank token field keeps the stored token

    bad = edit_form(page, channel["id"], phone_numbers="555-1234")
    page = client.post(f"/channels/{channel['id']}/edit", data=bad, follow_redirects=True).get_data(as_text=True)
    assert "Not E.164 (like +15551234567): 555-1234" in page
    [kept] = client.get("/api/v1/channels", headers=creator.headers).json["channels"]
    assert kept["configuration"]["phone_numbers"] == ["+15550002222"] and kept["status"] == "active"


def test_remove_a_number_from_the_page(client, creator, page_login, make_twilio_channel):
    channel, _ = make_twilio_channel(creator, "sms", "+15550001111")
    page_login(client, creator.email)
    html = client.get("/channels/").get_data(as_text=True)
    assert "data-confirm=" in html
    page = client.post(
        f"/channels/{channel['id']}/remove", data={"csrf_token": csrf_token_from(html)}, follow_redirects=True
    ).get_data(as_text=True)
    assert "“sms line” removed. Its messages stay in the outbox." in page
    assert "No number connected yet." in page


def test_an_unreachable_twilio_reads_as_a_sentence(app, client, creator, page_login, make_twilio_channel):
    channel, _ = make_twilio_channel(creator, "sms", "+15550001111", register=False)
    app.config["TWILIO_API_BASE"] = unreachable_url()
    page_login(client, creator.email)
    html = client.get("/channels/").get_data(as_text=True)
    page = client.post(
        f"/channels/{channel['id']}/verify", data={"csrf_token": csrf_token_from(html)}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Could not verify yet: Could not reach Twilio: check the network." in page
    assert "ConnectionPool" not in page and "Errno" not in page
