"""The Channels page: connect a Twilio number, see the webhook URLs, verify."""

from tests.conftest import csrf_token_from
from tests.messaging.conftest import account_sid


def test_connect_and_verify_a_number_from_the_page(client, creator, page_login, twilio):
    twilio.add_account(account_sid(500), "pagetoken0000000000000000000000x")
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
    assert "+15550005555" in page and "unverified" in page and "pagetoken" not in page
    channel_id = client.get("/api/v1/channels", headers=creator.headers).json["channels"][0]["id"]
    page = client.post(
        f"/channels/{channel_id}/verify", data={"csrf_token": csrf_token_from(page)}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Twilio credentials work." in page
