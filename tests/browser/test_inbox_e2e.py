"""The inbox end to end, in a real headless Chromium against the live server.

One journey, as an agent would take it: open the Inbox from the sidebar, see
an escalated conversation stand out and a new one arrive by itself, filter
by status, open the conversation, reply (the AI pauses and the visitor's
widget gets the message), watch the visitor's next message appear without a
reload, hand back to the AI, and close with a reason and summary.
"""

import re

from playwright.sync_api import Page, expect

from app.realtime import Subscription
from tests.browser.test_dashboard_e2e import assert_page_ok, click_and_load, collect_console_errors
from tests.browser.test_knowledge_e2e import log_in
from tests.inbox.conftest import chat, events

LIVE = 8_000  # the pages poll every 2 s


def test_agent_takes_over_replies_live_hands_back_and_closes(
    page: Page, app, live_server_url: str, client, creator, screenshot_dir
):
    console_errors = collect_console_errors(page)
    escalated = chat(client, creator, "Can a human check my <b>training plan</b>?", user="sam")["conversation_id"]

    # 1. The Inbox from the sidebar: the escalated conversation stands out.
    assert_page_ok(page, log_in(page, live_server_url, creator.email, creator.password), "login")
    response = click_and_load(page, 'nav a[data-nav="inbox"]')
    assert_page_ok(page, response, "Inbox from the sidebar")
    assert page.url == f"{live_server_url}/inbox"
    expect(page.locator('nav a[data-nav="inbox"]')).to_have_class("active")
    row = page.locator(f"#conversation-{escalated}")
    expect(row).to_have_class(re.compile(r"\bis-escalated\b"))
    expect(row).to_contain_text("low confidence")

    # 2. A new conversation arrives by itself; the status filter swaps only the list and keeps the URL.
    page.evaluate("window.__marker = 1")
    quiet = chat(client, creator, "Hello from a second visitor", user="kim")["conversation_id"]
    expect(page.locator(f"#conversation-{quiet}")).to_have_count(1, timeout=LIVE)
    page.get_by_label("Status").select_option("with_agent")
    expect(page.locator("#inbox-list")).to_contain_text("No conversation matches these filters.")
    assert "status=with_agent" in page.url
    page.get_by_label("Status").select_option("")
    expect(row).to_have_count(1)
    assert page.evaluate("window.__marker") == 1, "the list page was reloaded"
    page.screenshot(path=screenshot_dir / "inbox-list.png", full_page=True)

    # 3. Open it: the visitor's markup is text; reply with HTMX; the AI pauses; the widget gets it.
    response = click_and_load(page, f"#conversation-{escalated} a")
    assert_page_ok(page, response, "conversation page")
    expect(page.locator(".msg-user .msg-body").first).to_have_text("Can a human check my <b>training plan</b>?")
    expect(page.locator(".msg-ai .mode")).to_have_text("fallback")
    widget = Subscription(app.extensions["redis"], escalated)  # what the visitor's widget receives
    page.evaluate("window.__marker = 2")
    page.get_by_label("Reply").fill("Hi Sam, Alice here. Send me your plan.")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/reply")) as posted:
        page.get_by_role("button", name="Send").click()
    assert posted.value.request.headers.get("hx-request") == "true"
    expect(page.locator(".msg-agent .msg-body")).to_have_text("Hi Sam, Alice here. Send me your plan.")
    expect(page.get_by_label("Reply")).to_have_value("")
    expect(page.locator(".inbox-statusbar")).to_contain_text("You have this conversation", timeout=LIVE)
    assert [e["type"] for e in events(widget, expect=2)] == ["handover_initiated", "message"]
    widget.close()

    # 4. The visitor writes again: no AI answer, and the message shows up without a reload.
    assert chat(client, creator, "Here it is: 3 runs a week.", user="sam")["response"] is None
    expect(page.locator(".msg-user .msg-body").last).to_have_text("Here it is: 3 runs a week.", timeout=LIVE)
    expect(page.locator(".msg-agent .msg-meta strong")).to_have_text("Alice Coach")  # named after the refresh too
    assert page.evaluate("window.__marker") == 2, "the conversation page was reloaded"
    page.screenshot(path=screenshot_dir / "inbox-conversation.png", full_page=True)

    # 5. Hand back to the AI, then close with a reason and summary.
    click_and_load(page, "button:has-text('Hand back to AI')")
    expect(page.locator(".flash-success")).to_have_text("The assistant answers this conversation again.")
    page.locator("summary:has-text('Close the conversation')").click()
    page.get_by_label("Reason").select_option("resolved")
    page.get_by_label("Summary").fill("Reviewed the plan: three runs a week is fine.")
    click_and_load(page, "button:has-text('Close conversation')")
    expect(page.locator(".inbox-statusbar")).to_contain_text("Closed (resolved)")
    expect(page.locator(".inbox-summary")).to_contain_text("three runs a week is fine")
    expect(page.locator("#reply-form")).to_be_hidden()
    page.screenshot(path=screenshot_dir / "inbox-closed.png", full_page=True)

    assert console_errors == []
