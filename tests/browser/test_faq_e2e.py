"""FAQ & cache end to end, in a real headless Chromium against the live server.

One journey, as a creator would take it: open FAQ & cache from the sidebar,
write an entry with variants (a bad first try keeps what was typed), see a
visitor's question answered by it and counted; let frequent questions
suggest a draft, review it, answer it and publish it; answer questions ahead
so the cache fills, and clear the cache after confirming.

Visitors talk through the chat API (the test client shares the app, the
database and the queue with the live server); no worker runs, so warming
waits for `run_jobs()`.
"""

import re

from playwright.sync_api import Page, expect

from tests.assistant.test_chat_api import chat, coach  # noqa: F401  (fixture)
from tests.browser.test_dashboard_e2e import assert_page_ok, click_and_load, collect_console_errors
from tests.browser.test_knowledge_e2e import log_in
from tests.faq.test_faq_api import RESTLESS, stats

REFUND = "Do you offer a refund on the <b>coaching</b> plans?"
VARIANTS = ["Can I get my money back?", "Refunds?"]
REFUND_ANSWER = (
    "Yes: within 14 days of buying, through "
    "https://coaching.example.com/account/billing/refunds/request-a-refund-for-your-coaching-plan"
)
WARM = ["When should I replace my running shoes?", "What should I eat before a long run?"]


def faq_row(page: Page, question: str):
    return page.locator("#faq-entries tbody tr", has=page.locator("strong", has_text=question))


def used_cell(row):
    return row.locator("td").nth(3)


def stat(page: Page, label: str):
    return page.locator("#cache-stats .stat", has_text=label).locator(".stat-value")


def open_faq_from_sidebar(page: Page, base_url: str):
    response = click_and_load(page, 'nav a[data-nav="faq"]')
    assert_page_ok(page, response, "FAQ & cache from the sidebar")
    assert page.url == f"{base_url}/faq/"
    expect(page.locator("h1")).to_have_text("FAQ & cache")
    expect(page.locator('nav a[data-nav="faq"]')).to_have_class("active")


def create_entry_after_a_bad_try(page: Page, screenshot_dir):
    """A too-short question is refused next to its field, and nothing typed is lost."""
    form = page.locator("#new-faq")
    form.get_by_label("Question").fill("Hi")
    form.get_by_label("Other ways people ask it (one per line)").fill("\n".join(VARIANTS))
    form.get_by_label("Answer").fill(REFUND_ANSWER)
    form.get_by_label("Category").fill("billing")
    response = click_and_load(page, "#new-faq button[type=submit]")
    assert response.status == 422
    question_field = form.locator(".field.has-error", has=page.get_by_label("Question"))
    expect(question_field.locator(".error")).to_have_text("Field must be between 3 and 500 characters long.")
    expect(form.locator(".field.has-error")).to_have_count(1)
    expect(form.get_by_label("Question")).to_have_value("Hi")
    expect(form.get_by_label("Other ways people ask it (one per line)")).to_have_value("\n".join(VARIANTS))
    expect(form.get_by_label("Answer")).to_have_value(REFUND_ANSWER)
    expect(form.get_by_label("Category")).to_have_value("billing")
    page.screenshot(path=screenshot_dir / "faq-form-error.png", full_page=True)

    form.get_by_label("Question").fill(REFUND)
    response = click_and_load(page, "#new-faq button[type=submit]")
    assert_page_ok(page, response, "FAQ entry saved")
    expect(page.locator(".flash-success")).to_have_text(f"FAQ entry “{REFUND}” saved.")
    row = faq_row(page, REFUND)
    expect(row).to_have_count(1)
    expect(row.locator("strong")).to_have_text(REFUND)  # markup shown as text
    expect(row).to_contain_text("also: Can I get my money back? · Refunds?")
    expect(row.locator(".status")).to_have_text("published")
    expect(used_cell(row)).to_have_text("0×")
    return row


def test_creator_writes_an_entry_publishes_a_suggestion_warms_and_clears_the_cache(
    page: Page,
    client,
    coach,  # noqa: F811
    live_server_url: str,
    run_jobs,
    screenshot_dir,
):
    console_errors = collect_console_errors(page)

    # 1. FAQ & cache from the sidebar; a bad entry first, then a good one with variants.
    assert_page_ok(page, log_in(page, live_server_url, coach.email, coach.password), "login")
    open_faq_from_sidebar(page, live_server_url)
    expect(page.locator("#faq-entries .empty")).to_contain_text("No FAQ entries yet.")
    row = create_entry_after_a_bad_try(page, screenshot_dir)

    # 2. A visitor asks in other words: the entry answers, and its count shows after a reload.
    reply = chat(client, coach, "Can I get my money back?", user="vera", session="v-1")["response"]
    assert reply["answer_mode"] == "faq" and reply["text"] == REFUND_ANSWER
    assert_page_ok(page, page.reload(), "FAQ page reloaded")
    expect(used_cell(row)).to_have_text("1×")

    # 3. One question asked by three visitors becomes a suggested draft.
    for i in range(3):
        chat(client, coach, RESTLESS, user=f"runner-{i}", session=f"r-{i}")
    page.get_by_label("Asked at least").fill("3")
    response = click_and_load(page, "button:has-text('Suggest entries')")
    assert_page_ok(page, response, "suggest entries")
    expect(page.locator(".flash-success")).to_have_text(
        "1 frequent question added as drafts: review, answer and publish them."
    )
    draft = page.locator("#faq-entries tbody tr", has=page.locator(".status", has_text="draft"))
    expect(draft).to_have_count(1)
    expect(draft).to_contain_text("asked 3×")
    expect(stat(page, "drafts to review")).to_have_text("1")
    page.screenshot(path=screenshot_dir / "faq-entries.png", full_page=True)

    # 4. Review it on its own page, answer it and publish: it answers the next visitor.
    response = click_and_load(page, "#faq-entries tbody tr:has(.status:text-is('draft')) a:has-text('Review')")
    assert_page_ok(page, response, "draft review page")
    expect(page.locator("h1")).to_have_text("Review FAQ entry")
    expect(page.locator(".notice")).to_contain_text("Suggested from your conversations: asked 3 times")
    question = page.get_by_label("Question").input_value()
    assert question.lower().startswith("how many rest days")
    page.get_by_label("Answer").fill("Two full rest days a week: your muscles adapt while you rest.")
    page.get_by_label("Status").select_option("published")
    page.screenshot(path=screenshot_dir / "faq-review.png", full_page=True)
    response = click_and_load(page, "#faq-form button[type=submit]")
    assert_page_ok(page, response, "draft published")
    expect(page.locator(".flash-success")).to_have_text("FAQ entry saved.")
    expect(faq_row(page, question).locator(".status")).to_have_text("published")
    expect(stat(page, "drafts to review")).to_have_text("0")
    expect(stat(page, "published FAQ entries")).to_have_text("2")
    assert chat(client, coach, RESTLESS, user="runner-9", session="r-9")["response"]["answer_mode"] == "faq"

    # 5. Answer ahead: queued, then answered by the worker; the cache figures grow.
    before = stats(client, coach)["total_cached"]
    cache_card = page.locator("#response-cache")
    expect(stat(page, "cached answers")).to_have_text(str(before))
    page.get_by_label("Questions to answer ahead (one per line)").fill("\n".join(WARM))
    response = click_and_load(page, "button:has-text('Answer ahead')")
    assert_page_ok(page, response, "answer ahead")
    expect(page.locator(".flash-success")).to_have_text("Answering 2 questions in the background.")
    assert run_jobs() >= 1
    assert_page_ok(page, page.reload(), "FAQ page after warming")
    expect(stat(page, "cached answers")).to_have_text(str(before + 2))
    expect(cache_card).to_contain_text(re.compile(rf"{before + 2} cached answers, reused \d+ times?\."))
    assert stats(client, coach)["total_cached"] == before + 2
    page.screenshot(path=screenshot_dir / "faq-cache.png", full_page=True)

    # 6. Clearing asks first, then empties the cache.
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    response = click_and_load(page, "button:has-text('Clear the cache')")
    assert_page_ok(page, response, "clear the cache")
    assert dialogs == ["Forget every cached answer?"]
    expect(page.locator(".flash-success")).to_have_text(f"Cleared {before + 2} cached answers.")
    expect(stat(page, "cached answers")).to_have_text("0")
    expect(cache_card).to_contain_text("0 cached answers")
    assert stats(client, coach)["total_cached"] == 0

    # Chromium logs the refused form's 422 (its intended status) as a failed resource; nothing else may show up.
    refused = f"{live_server_url}/faq/new: Failed to load resource: the server responded with a status of 422"
    assert [e for e in console_errors if not e.startswith(refused)] == []
