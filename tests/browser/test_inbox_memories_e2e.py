"""Memories on the inbox conversation page, in a real headless Chromium against the live server.

An agent opens a conversation in which the user introduced themselves, adds
a memory, sees a bad one refused inside the card, corrects one and forgets
one: each time HTMX swaps only the memories card, and the API agrees.
"""

from playwright.sync_api import Page, expect

from tests.browser.test_dashboard_e2e import assert_page_ok, collect_console_errors
from tests.browser.test_knowledge_e2e import log_in
from tests.inbox.conftest import chat

INJURY = "left <b>knee</b>, since March (a long note: physiotherapist-recommended-rest-and-no-downhill-running)"


def memory_item(card, key: str):
    return card.locator("li", has=card.page.locator(".memory-key", has_text=key))


def screenshot(page: Page, path):
    """A full-page shot from the top: scrolled, the sticky top bar would be drawn mid-page."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True)


def save_memory(page: Page, key: str, value: str):
    """Fill the card's form and submit it; returns once HTMX has the new card."""
    card = page.locator("#memories")
    if not card.locator("details.more").evaluate("details => details.open"):
        card.locator("summary", has_text="Add or correct a memory").click()
    card.get_by_label("What").fill(key)
    card.get_by_label("Value").fill(value)
    card.get_by_label("Kind").select_option("fact")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/memories")) as posted:
        card.get_by_role("button", name="Save memory").click()
    assert posted.value.request.headers.get("hx-request") == "true"
    assert posted.value.status == 200


def test_agent_adds_corrects_and_forgets_memories_in_place(
    page: Page, client, creator, make_member, live_server_url: str, screenshot_dir
):
    console_errors = collect_console_errors(page)
    body = chat(client, creator, "My name is Sam and I live in Lisbon.", user="sam")
    agent = make_member(creator, "agent")

    # 1. The agent opens the conversation: what Sam said is remembered.
    assert_page_ok(page, log_in(page, live_server_url, agent.email, agent.password), "login")
    response = page.goto(f"{live_server_url}/inbox/{body['conversation_id']}")
    assert_page_ok(page, response, "conversation page")
    card = page.locator("#memories")
    expect(memory_item(card, "name")).to_contain_text("Sam")
    expect(memory_item(card, "location")).to_contain_text("Lisbon")
    page.evaluate("window.__marker = 1")

    # 2. Add a memory: the card is swapped in place, the markup shown as text.
    save_memory(page, "Injury", INJURY)
    expect(memory_item(card, "injury")).to_contain_text(INJURY)
    expect(card.locator("details.more")).not_to_have_attribute("open", "")
    screenshot(page, screenshot_dir / "inbox-memories-added.png")

    # 3. A bad submission: the error shows inside the card, the form stays open with what was typed.
    save_memory(page, "", "Porto")
    what = card.locator(".field.has-error", has=page.get_by_label("What"))
    expect(what.locator(".error")).to_have_text("This field is required.")
    expect(card.locator("details.more")).to_have_attribute("open", "")
    expect(card.get_by_label("Value")).to_have_value("Porto")
    screenshot(page, screenshot_dir / "inbox-memories-error.png")

    # 4. Correct the location: one value per key, not a second one.
    save_memory(page, "location", "Porto")
    expect(memory_item(card, "location")).to_have_count(1)
    expect(memory_item(card, "location")).to_contain_text("Porto")
    expect(card).not_to_contain_text("Lisbon")
    expect(card.locator(".error")).to_have_count(0)

    # 5. Forget the injury, after confirming.
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/delete")) as posted:
        memory_item(card, "injury").get_by_role("button", name="Forget").click()
    assert posted.value.status == 200
    assert dialogs == ["Forget “injury”?"]
    expect(memory_item(card, "injury")).to_have_count(0)
    expect(card.locator(".memories > li")).to_have_count(2)
    assert page.evaluate("window.__marker") == 1, "the conversation page was reloaded"
    screenshot(page, screenshot_dir / "inbox-memories.png")

    # 6. The API agrees with the page.
    memories = client.get(f"/api/v1/users/{body['end_user_id']}/memories", headers=creator.headers).json["memories"]
    assert {m["key"]: (m["value"], m["source"]) for m in memories} == {
        "name": ("Sam", "conversation"),
        "location": ("Porto", "creator"),
    }

    assert console_errors == []
