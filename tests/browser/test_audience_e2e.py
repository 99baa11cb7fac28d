"""Audience end to end, in a real headless Chromium against the live server.

One journey, as an owner would take it: open Audience from the sidebar,
create a user (a bad phone first keeps what was typed), find them with the
filters (the list swaps without a reload), open their page, change their
consent, link the widget visitor who is the same person, import a CSV whose
report appears while the page polls, and build a segment and evaluate it.
Then an agent sees the same users without any edit control.

Visitors talk through the chat API (the test client shares the app, the
database and the queue with the live server); no worker runs, so the import
waits for `run_jobs()`.
"""

import re

from playwright.sync_api import Page, expect

from tests.audience.conftest import create_user
from tests.browser.test_dashboard_e2e import assert_page_ok, click_and_load, collect_console_errors
from tests.browser.test_knowledge_e2e import log_in
from tests.inbox.conftest import chat

LIVE = 8_000  # the import page polls every second
ANN = "Ann <b>Lee</b> with a rather long name that must wrap inside its table cell"
ANN_PHONE = "+14155550001"
BAD_PHONE_ERROR = "Not an E.164 phone number: use + then the country code and number, digits only (+14155551234)."
CSV = "phone_e164,name,tags\n+14155550002,Cleo,runner\nnot-a-phone,Dan,\n+14155550003,Eve,vip;runner\n"
CRITERIA = '{"operator": "AND", "conditions": [{"attribute": "tags", "operator": "has", "value": "runner"}]}'


def user_row(page: Page, label: str):
    return page.locator("#audience-users tbody tr", has=page.locator("strong", has_text=label))


def open_audience_from_sidebar(page: Page, base_url: str):
    response = click_and_load(page, 'nav a[data-nav="audience"]')
    assert_page_ok(page, response, "Audience from the sidebar")
    assert page.url == f"{base_url}/audience/"
    expect(page.locator("h1")).to_have_text("Audience")
    expect(page.locator('nav a[data-nav="audience"]')).to_have_class("active")


def create_user_after_a_bad_phone(page: Page, screenshot_dir):
    """A bad phone is refused next to its field, and nothing typed is lost."""
    response = click_and_load(page, "a:has-text('New user')")
    assert_page_ok(page, response, "new user form")
    page.get_by_label("Phone (E.164)").fill("555-0001")
    page.get_by_label("Name").fill(ANN)
    page.get_by_label("E-mail").fill("ann@example.com")
    page.get_by_label("Tags").fill("vip, runner")
    page.get_by_label("Attributes (JSON)").fill('{"city": "Austin"}')
    response = click_and_load(page, "button:has-text('Create user')")
    assert response.status in (200, 422)
    phone_field = page.locator(".field.has-error", has=page.get_by_label("Phone (E.164)"))
    expect(phone_field.locator(".error")).to_have_text(BAD_PHONE_ERROR)
    expect(page.locator(".field.has-error")).to_have_count(1)
    expect(page.get_by_label("Phone (E.164)")).to_have_value("555-0001")
    expect(page.get_by_label("Name")).to_have_value(ANN)
    expect(page.get_by_label("E-mail")).to_have_value("ann@example.com")
    expect(page.get_by_label("Tags")).to_have_value("vip, runner")
    expect(page.get_by_label("Attributes (JSON)")).to_have_value('{"city": "Austin"}')
    page.screenshot(path=screenshot_dir / "audience-form-error.png", full_page=True)

    page.get_by_label("Phone (E.164)").fill(ANN_PHONE)
    response = click_and_load(page, "button:has-text('Create user')")
    assert_page_ok(page, response, "user created")
    expect(page.locator(".flash-success")).to_have_text("User created.")
    expect(page.locator("h1")).to_have_text(ANN)  # markup shown as text


def filter_search_and_sort(page: Page, base_url: str, screenshot_dir):
    """Every filter swaps only the list and keeps the URL; the page is never reloaded."""
    ann, bob = user_row(page, "Ann <b>Lee</b>"), user_row(page, "Bob Opted")
    expect(ann).to_have_count(1)
    expect(ann).to_contain_text(ANN_PHONE)
    expect(bob).to_have_count(1)
    page.evaluate("window.__marker = 1")

    page.get_by_label("Consent").select_option("OPT_IN")
    expect(ann).to_have_count(0)
    expect(bob).to_have_count(1)
    expect(page).to_have_url(re.compile(r"consent_state=OPT_IN"))
    page.get_by_label("Consent").select_option("")
    expect(ann).to_have_count(1)

    page.get_by_label("Search").fill("nobody-like-this")
    expect(page.locator("#audience-users .empty")).to_have_text("No user matches these filters.")
    page.screenshot(path=screenshot_dir / "audience-list-empty-filter.png", full_page=True)
    page.get_by_label("Search").fill("4155550001")
    expect(ann).to_have_count(1)
    expect(bob).to_have_count(0)
    expect(page).to_have_url(re.compile(r"q=4155550001"))
    page.get_by_label("Search").fill("")
    expect(bob).to_have_count(1)

    page.get_by_label("Sort").select_option("engagement_score")
    expect(page).to_have_url(re.compile(r"sort=engagement_score"))
    expect(page.locator("#audience-users tbody tr")).to_have_count(2)
    page.get_by_label("Channel").select_option("web")
    expect(page.locator("#audience-users .empty")).to_be_visible()
    page.get_by_label("Channel").select_option("")
    expect(ann).to_have_count(1)
    assert page.evaluate("window.__marker") == 1, "the users page was reloaded"
    page.screenshot(path=screenshot_dir / "audience-list.png", full_page=True)


def change_consent(page: Page):
    history = page.locator("#consent .consent-event")
    expect(history).to_have_count(0)
    expect(page.locator("#consent .consent-history")).to_have_text("No changes yet.")
    page.locator("#consent").get_by_label("Consent").select_option("OPT_IN")
    page.get_by_label("Why").fill("said yes at the <i>workshop</i>")
    response = click_and_load(page, "button:has-text('Change consent')")
    assert_page_ok(page, response, "consent changed")
    expect(page.locator(".flash-success")).to_have_text("Consent is now Opt in.")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("Pending → Opt in")
    expect(history.first).to_contain_text("said yes at the <i>workshop</i>")
    expect(page.locator("#consent .consent").first).to_have_text("Opt in")


def link_widget_visitor(page: Page, client, creator):
    """The visitor who chatted on the website is Ann: link them into her user."""
    chat(client, creator, "Hi, this is Ann from the website", user="widget-ann-42", session="w-1")
    found = client.get("/api/v1/users?search=widget-ann-42", headers=creator.headers).json["users"]
    assert len(found) == 1
    page.locator("summary:has-text('Link another user')").click()
    page.get_by_label("Other user (id or phone)").fill(found[0]["id"])
    response = click_and_load(page, "button:has-text('Link into this user')")
    assert_page_ok(page, response, "users linked")
    expect(page.locator(".flash-success")).to_contain_text("is now part of this user.")
    expect(page.locator(".facts code", has_text="widget-ann-42")).to_have_count(1)
    expect(page.locator(".audience-conversations li a")).to_have_count(1)
    expect(page.locator(".audience-messages")).to_contain_text("Hi, this is Ann from the website")
    expect(page.locator("#consent .consent").first).to_have_text("Opt in")  # the stricter PENDING is not kept


def import_csv(page: Page, run_jobs, screenshot_dir):
    assert_page_ok(page, click_and_load(page, ".breadcrumb a"), "back to the users")
    response = click_and_load(page, ".audience-tabs a:has-text('Imports')")
    assert_page_ok(page, response, "imports page")
    expect(page.locator(".table .empty")).to_contain_text("No imports yet.")
    page.screenshot(path=screenshot_dir / "audience-imports-empty.png", full_page=True)
    page.get_by_label("CSV or JSON file").set_input_files(
        {"name": "people.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    )
    response = click_and_load(page, "button:has-text('Import')")
    assert_page_ok(page, response, "import started")
    status = page.locator("#import-status")
    expect(status).to_have_attribute("data-status", "pending")
    expect(status.locator("progress")).to_be_visible()
    page.evaluate("window.__marker = 2")
    page.screenshot(path=screenshot_dir / "audience-import-pending.png", full_page=True)

    assert run_jobs() >= 1
    expect(status).to_have_attribute("data-status", "completed", timeout=LIVE)  # the page polled
    assert page.evaluate("window.__marker") == 2, "the import page was reloaded"
    expect(status.locator("progress")).to_have_count(0)
    figures = status.locator(".import-figures > div")
    expect(figures.nth(0)).to_contain_text("2")
    expect(figures.nth(2)).to_contain_text("1")
    refused = status.locator("tbody tr")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("E.164")
    page.screenshot(path=screenshot_dir / "audience-import-report.png", full_page=True)


def create_and_evaluate_segment(page: Page, screenshot_dir):
    assert_page_ok(page, click_and_load(page, ".breadcrumb a"), "back to the imports")
    response = click_and_load(page, ".audience-tabs a:has-text('Segments')")
    assert_page_ok(page, response, "segments page")
    expect(page.locator(".table .empty")).to_contain_text("No segments yet.")
    page.get_by_label("Name").fill("Runners")
    page.get_by_label("Description").fill("Everyone tagged runner, for the spring challenge")
    page.get_by_label("Filter criteria (JSON)").fill(CRITERIA)
    response = click_and_load(page, "button:has-text('Save segment')")
    assert_page_ok(page, response, "segment saved")
    expect(page.locator(".flash-success")).to_have_text("Segment saved.")
    row = page.locator("tbody tr", has=page.locator("strong", has_text="Runners"))
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Evaluate").click()
    expect(row.locator(".segment-count")).to_have_text("3")  # Ann, Cleo and Eve
    expect(row.locator(".sample li")).to_have_count(3)
    expect(row.locator(".sample")).to_contain_text("+14155550003")
    page.screenshot(path=screenshot_dir / "audience-segments.png", full_page=True)


def agent_sees_users_without_edit_controls(browser, base_url, agent, user_id, screenshot_dir):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    console_errors = collect_console_errors(page)
    try:
        assert_page_ok(page, log_in(page, base_url, agent.email, agent.password), "agent login")
        assert_page_ok(page, click_and_load(page, 'nav a[data-nav="audience"]'), "agent: Audience")
        expect(page.locator("a:has-text('New user')")).to_have_count(0)
        expect(page.locator(".audience-tabs a:has-text('Imports')")).to_have_count(0)
        assert_page_ok(page, click_and_load(page, f"#user-{user_id} a"), "agent: user page")
        expect(page.locator("#consent .consent-event")).to_have_count(1)
        for control in ("Edit", "Change consent", "Link into this user", "Delete this user"):
            expect(page.get_by_text(control, exact=True)).to_have_count(0)
        page.screenshot(path=screenshot_dir / "audience-user-agent.png", full_page=True)
        assert_page_ok(page, click_and_load(page, ".breadcrumb a"), "agent: back to the list")
        assert_page_ok(page, click_and_load(page, ".audience-tabs a:has-text('Segments')"), "agent: segments")
        expect(page.get_by_role("button", name="Evaluate")).to_have_count(1)
        expect(page.get_by_role("button", name="Delete")).to_have_count(0)
        expect(page.get_by_role("button", name="Save segment")).to_have_count(0)
        assert console_errors == []
    finally:
        context.close()


def test_owner_manages_users_consent_links_imports_and_segments(
    page: Page, browser, client, creator, make_member, live_server_url: str, run_jobs, screenshot_dir
):
    console_errors = collect_console_errors(page)

    # 1. Audience from the sidebar: nobody yet.
    assert_page_ok(page, log_in(page, live_server_url, creator.email, creator.password), "login")
    open_audience_from_sidebar(page, live_server_url)
    expect(page.locator("#audience-users .empty")).to_contain_text("No users yet.")
    page.screenshot(path=screenshot_dir / "audience-list-empty.png", full_page=True)

    # 2. A user with a phone, after a bad try.
    create_user_after_a_bad_phone(page, screenshot_dir)
    user_id = page.url.rsplit("/", 1)[-1]

    # 3. The list with a second user: filter, search and sort without a reload.
    create_user(client, creator, external_id="crm-2", display_name="Bob Opted", consent_state="OPT_IN", tags=["vip"])
    open_audience_from_sidebar(page, live_server_url)
    filter_search_and_sort(page, live_server_url, screenshot_dir)

    # 4. Ann's page: consent, then the website visitor linked into her.
    assert_page_ok(page, click_and_load(page, f"#user-{user_id} a"), "user page")
    expect(page.locator(".facts").last).to_contain_text("cityAustin")
    change_consent(page)
    link_widget_visitor(page, client, creator)
    page.screenshot(path=screenshot_dir / "audience-user.png", full_page=True)

    # 5. Import a CSV with one bad row; 6. a segment of runners, evaluated.
    import_csv(page, run_jobs, screenshot_dir)
    create_and_evaluate_segment(page, screenshot_dir)

    # 7. An agent sees the users but cannot change them.
    agent = make_member(creator, "agent")
    agent_sees_users_without_edit_controls(browser, live_server_url, agent, user_id, screenshot_dir)

    assert console_errors == []
