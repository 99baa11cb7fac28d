"""Programs end to end, in a real headless Chromium against the live server.

An owner opens Programs from the sidebar, creates a program, and builds
start → message → question → end in the builder: two steps added, their text
written, and the three connections chosen, the diagram redrawn after each change
without a reload. They publish it. A visitor opens the widget on the creator's
own site (another origin); once connected they are a user, and the owner
enrolls them from the program's enrollment form. The step job runs (no worker
runs in the tests: `run_jobs()`), and the program's first message and its
question arrive in the widget live.
"""

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_dashboard_e2e import assert_page_ok, click_and_load, collect_console_errors
from tests.browser.test_knowledge_e2e import log_in
from tests.browser.test_widget_e2e import WIDGET, Watch, open_widget, site, widget_site_page  # noqa: F401  (fixture)

LIVE = 8_000  # the widget's socket forwards pub/sub events every 0.2 s
WELCOME = "Welcome to First week, {first_name|friend}! Seven short days to a running habit."
QUESTION = "Ready for your first run?"


@pytest.fixture
def visitor_page(browser: Browser):
    """The visitor's own browser context, apart from the owner's dashboard."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def visitor_site(client, creator, live_server_url, site):  # noqa: F811
    """A web channel that allows the creator's site, and the site's page with its embed code."""
    return widget_site_page(client, creator, live_server_url, site, "programs")


def create_program(page: Page, base_url: str):
    response = click_and_load(page, 'nav a[data-nav="programs"]')
    assert_page_ok(page, response, "Programs from the sidebar")
    assert page.url == f"{base_url}/programs/"
    expect(page.locator('nav a[data-nav="programs"]')).to_have_class("active")
    expect(page.locator("#program-list")).to_contain_text("No programs yet.")
    page.get_by_label("Name", exact=True).fill("First week")
    page.get_by_label("Description").fill("Seven short days to a running habit")
    response = click_and_load(page, "button:has-text('Create and open the builder')")
    assert_page_ok(page, response, "the builder")
    expect(page.locator("h1")).to_have_text("First week")
    expect(page.locator("#diagram .flow-node")).to_have_count(2)  # start → end


def add_step(page: Page, kind: str, node_id: str):
    page.locator("#add-kind").select_option(label=kind)
    page.get_by_role("button", name="Add step").click()
    expect(page.locator(f"#node-{node_id}")).to_be_visible()
    expect(page.locator(f'#diagram .flow-node[data-node-id="{node_id}"]')).to_have_count(1)


def connect(page: Page, node_id: str, target: str, edges: int):
    """Choose the next step: the diagram is redrawn with that edge (and only the step's new way out)."""
    page.locator(f"#{node_id}-next").select_option(target)
    expect(page.locator(f'#diagram path[data-source="{node_id}"][data-target="{target}"]')).to_have_count(1)
    expect(page.locator("#diagram path.flow-edge")).to_have_count(edges)
    expect(page.locator(f"#{node_id}-next")).to_have_value(target)


def build_four_steps(page: Page, screenshot_dir):
    page.evaluate("window.__marker = 1")
    add_step(page, "Message", "message_1")
    node = page.locator("#node-message_1")
    expect(node.locator("details.node-edit")).to_have_attribute("open", "")  # a new step opens its editor
    node.get_by_label("Send after (hours)").fill("-1")
    node.get_by_role("button", name="Save step").click()
    expect(page.locator("#node-message_1 .field.has-error .error")).to_have_text("Must not be negative.")
    expect(page.locator(".node-list-message")).to_have_text("Not saved: correct the fields marked below.")
    node = page.locator("#node-message_1")
    node.get_by_label("Send after (hours)").fill("0")
    node.get_by_label("Message", exact=True).fill(WELCOME)
    node.get_by_role("button", name="Save step").click()
    expect(page.locator("#node-message_1 .node-text")).to_contain_text("Welcome to First week, {first_name|")
    expect(page.locator('#diagram .flow-node[data-node-id="message_1"] .flow-node-text')).to_contain_text(
        "Welcome to First week"
    )

    add_step(page, "Question", "question_1")
    node = page.locator("#node-question_1")
    node.get_by_label("Question", exact=True).fill(QUESTION)
    node.get_by_label("Choices (one per line; empty for a free answer)").fill("Yes\nNot yet")
    node.get_by_role("button", name="Save step").click()
    expect(page.locator("#node-question_1 .node-text")).to_have_text(QUESTION)
    expect(page.locator("#diagram .flow-node-error")).to_have_count(2)  # added, not connected yet
    expect(page.locator("#problems")).to_contain_text("problems to fix before publishing")

    # Publishing now is refused back at the builder's own URL: a reload GETs it, nothing is re-POSTed.
    builder_url = page.url
    assert_page_ok(page, click_and_load(page, "#publish"), "refused publish")
    assert page.url == builder_url
    expect(page.locator(".flash-error")).to_have_text("The flow is not valid: see the problem on each node.")
    expect(page.locator("#diagram .flow-node-error")).to_have_count(2)
    reloaded = page.reload()
    assert_page_ok(page, reloaded, "builder reloaded after a refused publish")
    assert reloaded.request.method == "GET" and page.url == builder_url
    page.evaluate("window.__marker = 1")

    connect(page, "start", "message_1", 1)
    connect(page, "message_1", "question_1", 2)
    connect(page, "question_1", "end", 3)
    expect(page.locator("#diagram .flow-node")).to_have_count(4)
    expect(page.locator("#diagram .flow-node-error")).to_have_count(0)
    expect(page.locator("#problems")).to_have_text("✓ The flow is valid: it can be published.")
    assert page.evaluate("window.__marker") == 1, "the builder reloaded the page"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=screenshot_dir / "programs-builder.png")

    # A dry run of the draft as a test user, in place.
    page.get_by_label("Test user's name").fill("Sam Lee")
    page.get_by_label("Answers to the questions, in order (one per line)").fill("yes")
    page.get_by_role("button", name="Run the preview").click()
    transcript = page.locator("#preview-panel .transcript li")
    expect(transcript).to_have_text(
        [
            "Welcome to First week, Sam! Seven short days to a running habit.",
            "Ready for your first run? YesNot yet",
            "yes",
            "■ End: the program is complete.",
        ]
    )
    page.locator("#preview").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "programs-builder-preview.png")


def publish(page: Page):
    response = click_and_load(page, "#publish")
    assert_page_ok(page, response, "published")
    expect(page.locator(".flash-success")).to_have_text("Version 1 published: new enrollments run on it.")
    expect(page.locator("#program-state")).to_contain_text("version 1 live")
    expect(page.locator("#versions tbody tr")).to_have_count(1)


def test_build_publish_and_enroll_a_widget_visitor_who_gets_the_first_message(
    page: Page,
    visitor_page: Page,
    live_server_url,
    creator,
    visitor_site,
    run_jobs,
    screenshot_dir,
    site,  # noqa: F811
):
    staff_errors = collect_console_errors(page)
    visitor = Watch(visitor_page.context, visitor_page)

    assert_page_ok(page, log_in(page, live_server_url, creator.email, creator.password), "login")
    create_program(page, live_server_url)
    build_four_steps(page, screenshot_dir)
    publish(page)

    # The visitor opens the widget on the creator's site: once connected, they are a user.
    visitor_page.goto(visitor_site)
    open_widget(visitor_page)
    log = visitor_page.locator(f"{WIDGET} .log")
    expect(log.locator(".msg.ai").first).to_contain_text("Hello! How can I help you today?")

    response = click_and_load(page, "a:has-text('Enrollments & analytics')")
    assert_page_ok(page, response, "enrollments")
    page.get_by_label("Find a user").fill("visitor")
    user = page.get_by_label("User", exact=True)
    expect(user.locator("option")).to_have_count(2)  # the prompt and the visitor, found by the search
    user.select_option(index=1)
    assert "Website visitor" in user.locator("option:checked").inner_text()
    response = click_and_load(page, "#enroll-form button[type=submit]")
    assert_page_ok(page, response, "enrolled")
    expect(page.locator(".flash-success")).to_contain_text("is enrolled: the first step runs now.")

    assert run_jobs() >= 1  # the enrollment's step job: start, the message, the question
    expect(log.locator(".msg.ai .body").filter(has_text="Welcome to First week, friend!")).to_have_count(
        1, timeout=LIVE
    )
    expect(log.locator(".msg.ai").last).to_contain_text(QUESTION, timeout=LIVE)
    visitor_page.screenshot(path=screenshot_dir / "programs-widget-first-message.png")

    page.reload()
    row = page.locator("#enrollment-list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Question: Ready for your first run?")
    expect(row).to_contain_text("waiting for the answer")
    expect(page.locator(".program-stats .stat").first).to_have_text("1enrollments")
    page.screenshot(path=screenshot_dir / "programs-enrollments.png", full_page=True)

    # Chromium logs the refused step's 422 (its intended status) as a failed resource; nothing else may show up.
    refused = "Failed to load resource: the server responded with a status of 422"
    assert len([e for e in staff_errors if refused in e]) == 1
    assert [e for e in staff_errors if refused not in e] == [] and visitor.errors == []
    assert visitor.dialogs == []
    assert visitor.foreign_hosts(live_server_url, site.origin) == []
