"""SMS channels and the outbox end to end, in a real headless Chromium against the live server.

One journey, as an owner would take it: connect a Twilio number on the
Channels page, copy the webhook URLs, verify it against the fake Twilio (and
see a wrong account refused with its reason, fix it in the edit form, then
remove that number); then watch the
Outbox as texts come in: an AI answer goes out, a STOP blocks the next reply
with its reason, and a 21610 failure shows its error code; the filters narrow
the list.

Texters reach the app through the test client, signed exactly as Twilio signs
(it shares the app, the database and the queue with the live server); no
worker runs, so sending waits for `run_jobs()`.
"""

from playwright.sync_api import Page, expect

from tests.assistant.test_chat_api import coach  # noqa: F401  (fixture)
from tests.browser.test_dashboard_e2e import assert_page_ok, click_and_load, collect_console_errors
from tests.browser.test_knowledge_e2e import log_in
from tests.messaging.conftest import account_sid, inbound_params, signed_post, twilio  # noqa: F401  (fixture)

NUMBER = "+15550001111"
SID, TOKEN = account_sid(900), "e2etoken000000000000000000000001"
RUNNER, QUITTER = "+15557654321", "+15557650000"
QUESTION = "How many rest days should I take each week?"
VERIFIED = "Twilio confirmed the number is on your account: it is connected."


def message_row(page: Page, text: str):
    return page.locator("#outbox-messages tbody tr", has_text=text)


def open_from_sidebar(page: Page, key: str, url: str, title: str):
    response = click_and_load(page, f'nav a[data-nav="{key}"]')
    assert_page_ok(page, response, f"{title} from the sidebar")
    assert page.url == url
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator(f'nav a[data-nav="{key}"]')).to_have_class("active")


def connect_and_verify_numbers(page: Page, base_url: str, screenshot_dir):
    numbers = page.locator("#twilio-channels .twilio-number")
    expect(page.locator("#twilio-channels .empty")).to_have_text("No number connected yet.")
    expect(page.locator("#webhook-inbound")).to_have_text(f"{base_url}/webhooks/inbound")
    expect(page.locator("#webhook-status")).to_have_text(f"{base_url}/webhooks/status")

    form = page.locator("#twilio-form")
    form.get_by_label("Channel").select_option("sms")
    form.get_by_label("Name").fill("Coaching texts")
    form.get_by_label("Twilio account SID").fill(SID)
    form.get_by_label("Twilio auth token").fill(TOKEN)
    form.get_by_label("Number (E.164, like +15551234567)").fill(NUMBER)
    response = click_and_load(page, "#twilio-form button[type=submit]")
    assert_page_ok(page, response, "number connected")
    expect(page.locator(".flash-success")).to_have_text(
        "Number connected. Paste the webhook URLs into Twilio, then verify."
    )
    sms = numbers.filter(has_text=NUMBER)
    expect(sms.locator(".status")).to_have_text("pending verification")
    assert TOKEN not in page.content()

    response = click_and_load(page, f"#{sms.get_attribute('id')} button:has-text('Verify')")
    assert_page_ok(page, response, "number verified")
    expect(page.locator(".flash-success")).to_have_text(VERIFIED)
    expect(sms.locator(".status")).to_have_text("active")

    # A WhatsApp number whose account Twilio does not know: refused, with the reason by the number.
    form.get_by_label("Channel").select_option("whatsapp")
    form.get_by_label("Name").fill("WhatsApp coaching line with a long name")
    form.get_by_label("Twilio account SID").fill(account_sid(901))
    form.get_by_label("Twilio auth token").fill("wrongtoken0000000000000000000001")
    form.get_by_label("Number (E.164, like +15551234567)").fill("+15550002222")
    assert_page_ok(page, click_and_load(page, "#twilio-form button[type=submit]"), "second number connected")
    whatsapp = numbers.filter(has_text="+15550002222")
    response = click_and_load(page, f"#{whatsapp.get_attribute('id')} button:has-text('Verify')")
    assert_page_ok(page, response, "verification refused")
    expect(page.locator(".flash-error")).to_have_text("Verification failed: Twilio refused these credentials (20003).")
    expect(whatsapp.locator(".status")).to_have_text("failed")
    expect(whatsapp.locator(".reason")).to_have_text("Twilio refused these credentials (20003).")
    expect(numbers).to_have_count(2)
    page.screenshot(path=screenshot_dir / "channels-twilio.png", full_page=True)

    # Fix it in its edit form: the right account and token; saving verifies it at once.
    whatsapp.locator("summary", has_text="Edit").click()
    edit = whatsapp.locator("form.form-grid")
    edit.get_by_label("Twilio account SID").fill(SID)
    edit.get_by_label("New auth token (blank: keep the stored one)").fill(TOKEN)
    shot(page, screenshot_dir / "channels-twilio-edit.png")
    assert_page_ok(
        page, click_and_load(page, f"#{whatsapp.get_attribute('id')} button:has-text('Save and verify')"), "edited"
    )
    expect(page.locator(".flash-success")).to_have_text(VERIFIED)
    expect(whatsapp.locator(".status")).to_have_text("active")
    expect(whatsapp.locator(".reason")).to_have_count(0)

    # Remove it (after the browser's confirm): the SMS number stays.
    page.once("dialog", lambda dialog: dialog.accept())
    response = click_and_load(page, f"#{whatsapp.get_attribute('id')} button:has-text('Remove')")
    assert_page_ok(page, response, "number removed")
    expect(page.locator(".flash-success")).to_have_text(
        "“WhatsApp coaching line with a long name” removed. Its messages stay in the outbox."
    )
    expect(numbers).to_have_count(1)
    expect(sms.locator(".status")).to_have_text("active")
    shot(page, screenshot_dir / "channels-twilio-removed.png")


def shot(page: Page, path):
    page.evaluate("window.scrollTo(0, 0)")  # a reload keeps the scroll position; show the page from its top
    page.screenshot(path=path, full_page=True)


def text_in(client, body: str, sender: str = RUNNER):
    response = signed_post(client, "/webhooks/inbound", inbound_params(to=NUMBER, from_=sender, body=body), TOKEN)
    assert response.status_code == 200


def filter_outbox(page: Page, status: str = "", channel: str = ""):
    page.get_by_label("Status").select_option(status)
    page.get_by_label("Channel").select_option(channel)
    return click_and_load(page, "#outbox-filters button[type=submit]")


def test_owner_connects_a_number_and_follows_replies_in_the_outbox(
    page: Page,
    client,
    coach,  # noqa: F811
    twilio,  # noqa: F811
    live_server_url: str,
    run_jobs,
    screenshot_dir,
):
    console_errors = collect_console_errors(page)
    twilio.add_account(SID, TOKEN, [NUMBER, "+15550002222"])

    # 1. Channels: connect the number, see the webhook URLs, verify it.
    assert_page_ok(page, log_in(page, live_server_url, coach.email, coach.password), "login")
    open_from_sidebar(page, "channels", f"{live_server_url}/channels/", "Channels")
    connect_and_verify_numbers(page, live_server_url, screenshot_dir)

    # 2. The outbox before anything was sent.
    open_from_sidebar(page, "outbox", f"{live_server_url}/messaging/outbox", "Outbox")
    expect(page.locator("#outbox-messages .empty")).to_contain_text("No outbound messages yet.")
    expect(page.locator("#inbound-activity .empty")).to_have_text("Nothing received in the last 24 hours.")
    shot(page, screenshot_dir / "outbox-empty.png")

    # 3. A signed text gets an AI answer, sent once the job runs.
    text_in(client, QUESTION)
    assert run_jobs() >= 1
    [sent] = twilio.sent
    assert sent["to"] == RUNNER and "two full rest days" in sent["body"]
    assert_page_ok(page, page.reload(), "outbox after the answer")
    answer = message_row(page, "two full rest days")
    expect(answer.locator(".status")).to_have_text("sent")
    expect(answer).to_contain_text("ai reply")

    # 4. STOP: confirmed once, then the coach's reply is blocked, with the reason.
    text_in(client, "STOP")
    run_jobs()
    conversation = client.get("/api/v1/conversations", headers=coach.headers).json["conversations"][0]["id"]
    reply = client.post(
        f"/api/v1/conversations/{conversation}/reply", headers=coach.headers, json={"message": "Sorry to see you go!"}
    )
    assert reply.status_code == 201, reply.json
    run_jobs()
    assert len(twilio.sent) == 2  # the answer and the STOP confirmation, never the blocked reply
    assert_page_ok(page, page.reload(), "outbox after STOP")
    blocked = message_row(page, "Sorry to see you go!")
    expect(blocked.locator(".status")).to_have_text("blocked")
    expect(blocked.locator(".outbox-error")).to_have_text("consent is STOP")
    expect(message_row(page, "unsubscribed").locator(".status")).to_have_text("sent")

    # 5. Twilio refuses another texter's answer with 21610: failed, with the code and message.
    twilio.fail_next(400, code=21610, message="Attempt to send to unsubscribed recipient")
    text_in(client, "What should I eat before a long run?", sender=QUITTER)
    run_jobs()
    assert_page_ok(page, page.reload(), "outbox after a 21610")
    failed = page.locator("#outbox-messages tbody tr", has=page.locator(".status", has_text="failed"))
    expect(failed).to_have_count(1)
    expect(failed.locator(".twilio-code")).to_have_text("21610")
    expect(failed.locator(".outbox-error")).to_contain_text("Attempt to send to unsubscribed recipient")
    expect(failed).to_contain_text(QUITTER)
    summary = page.locator("#outbox-summary .stat")
    expect(summary.filter(has_text="messages").locator(".stat-value")).to_have_text("4")
    expect(summary.filter(has_text="failed").locator(".stat-value")).to_have_text("1")
    expect(summary.filter(has_text="blocked by consent").locator(".stat-value")).to_have_text("1")
    inbound = page.locator("#inbound-activity tbody tr")
    expect(inbound).to_have_count(3)
    expect(inbound.filter(has_text="STOP").locator(".status")).to_have_text("stop")
    shot(page, screenshot_dir / "outbox.png")

    # 6. Filters: by status, by channel, and nothing on WhatsApp; Clear brings everything back.
    assert_page_ok(page, filter_outbox(page, status="blocked"), "filtered by blocked")
    expect(page.locator("#outbox-messages tbody tr")).to_have_count(1)
    expect(blocked).to_have_count(1)
    expect(page.get_by_label("Status")).to_have_value("blocked")
    assert_page_ok(page, filter_outbox(page, status="failed", channel="sms"), "filtered by failed SMS")
    expect(page.locator("#outbox-messages tbody tr")).to_have_count(1)
    expect(failed).to_have_count(1)
    shot(page, screenshot_dir / "outbox-filtered.png")
    assert_page_ok(page, filter_outbox(page, channel="whatsapp"), "filtered by WhatsApp")
    expect(page.locator("#outbox-messages .empty")).to_have_text("No outbound messages match these filters.")
    expect(page.locator("#outbox-summary .stat-value").first).to_have_text("0")
    shot(page, screenshot_dir / "outbox-filtered-empty.png")
    assert_page_ok(page, click_and_load(page, "#outbox-filters a:has-text('Clear')"), "filters cleared")
    expect(page.locator("#outbox-messages tbody tr")).to_have_count(4)

    assert console_errors == []
