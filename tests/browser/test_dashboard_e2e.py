"""The dashboard end to end, in a real headless Chromium against the live server.

One journey, as a new creator would take it: register, log out, log in again,
open every area of the sidebar, create an API key with the HTMX form, and then
call the JSON API with that key from outside the browser.
"""

import json
import urllib.request
import uuid

from playwright.sync_api import Page, expect

from app.dashboard.navigation import SECTIONS_BY_KEY, sections_for
from app.models import Role

PASSWORD = "e2e-strong-pass-42"
FULL_NAME = "Erin Endtoend"
COMPANY = "E2E Coaching Ltd"


def collect_console_errors(page: Page) -> list[str]:
    """Console errors and uncaught exceptions: CSP violations and missing static
    files only show up here, never in the HTTP status of the page."""
    errors = []
    page.on(
        "console", lambda message: errors.append(f"{page.url}: {message.text}") if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(f"{page.url}: uncaught {error}"))
    return errors


def click_and_load(page: Page, selector: str):
    """Click a link or submit button and return the response of the page it loads."""
    with page.expect_navigation() as navigation:
        page.click(selector)
    return navigation.value


def assert_page_ok(page: Page, response, what: str):
    assert response is not None and response.status == 200, f"{what}: HTTP {response and response.status}"
    expect(page.locator("h1")).to_have_count(1)
    body = page.locator("body").inner_text()
    for sign in ("Something went wrong", "Internal Server Error", "Traceback"):
        assert sign not in body, f"{what}: the page shows a server error"


def register(page: Page, base_url: str, email: str):
    page.goto(f"{base_url}/register")
    page.get_by_label("Your name").fill(FULL_NAME)
    page.get_by_label("Business or brand (optional)").fill(COMPANY)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    return click_and_load(page, "button[type=submit]")


def log_in(page: Page, email: str):
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    return click_and_load(page, "button[type=submit]")


def assert_on_dashboard_home(page: Page, base_url: str):
    assert page.url == f"{base_url}/"
    expect(page.locator("h1")).to_have_text(f"Hello, {FULL_NAME.split()[0]}")
    expect(page.locator(".topbar .workspace")).to_have_text(COMPANY)


def visit_every_nav_item(page: Page):
    # Read the keys before clicking: each click loads a new page, which would
    # leave handles to the old page's links stale.
    keys = page.locator("nav a[data-nav]").evaluate_all("links => links.map(a => a.dataset.nav)")
    assert keys == [section.key for section in sections_for(Role.OWNER)], "the sidebar misses an area"
    for key in keys:
        response = click_and_load(page, f'nav a[data-nav="{key}"]')
        assert_page_ok(page, response, f"nav item {key!r}")
        expect(page.locator(f'nav a[data-nav="{key}"]')).to_have_class("active")
        if SECTIONS_BY_KEY[key].coming:
            expect(page.get_by_role("heading", name="This area is being built")).to_be_visible()


def create_api_key(page: Page, name: str) -> str:
    """Create a key through the HTMX form and return the secret it reveals once."""
    page.get_by_label("Key name").fill(name)
    with page.expect_response(lambda r: r.request.method == "POST" and "/api-keys" in r.url) as posted:
        page.get_by_role("button", name="Create key").click()
    # The header proves HTMX sent the form, not a plain full-page submit.
    assert posted.value.request.headers.get("hx-request") == "true"
    assert posted.value.status == 200
    secret = page.locator("#new-api-key").inner_text().strip()
    assert secret.startswith("chk")
    row = page.locator("#keys-panel tbody tr", has_text=name)
    expect(row).to_have_count(1)
    expect(row.locator("code")).to_have_text(f"{secret[:12]}…")  # the table shows the key's prefix
    return secret


def get_me_with_api_key(base_url: str, secret: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{base_url}/api/v1/auth/me", headers={"X-API-Key": secret})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.load(response)


def test_new_creator_registers_browses_every_area_and_calls_the_api_with_a_new_key(
    page: Page, live_server_url: str, screenshot_dir
):
    console_errors = collect_console_errors(page)
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"

    # 1. Register, and land on the dashboard home.
    response = register(page, live_server_url, email)
    assert_page_ok(page, response, "registration")
    assert_on_dashboard_home(page, live_server_url)
    expect(page.locator(".flash-success")).to_contain_text(f"Welcome to Creator Hub, {FULL_NAME}")
    page.screenshot(path=screenshot_dir / "dashboard-home.png", full_page=True)

    # 2. Log out from the top bar, then log in again with the same credentials.
    response = click_and_load(page, ".topbar button:has-text('Log out')")
    assert_page_ok(page, response, "logout")
    assert page.url == f"{live_server_url}/login"
    expect(page.locator(".flash-info")).to_have_text("You have been logged out.")
    page.screenshot(path=screenshot_dir / "login.png", full_page=True)
    response = log_in(page, email)
    assert_page_ok(page, response, "login")
    assert_on_dashboard_home(page, live_server_url)

    # 3. Every area of the sidebar opens cleanly.
    visit_every_nav_item(page)

    # 4. Settings → API keys: create a key with the HTMX form.
    click_and_load(page, 'nav a[data-nav="profile"]')
    click_and_load(page, ".tabs a:has-text('API keys')")
    expect(page.locator("h1")).to_have_text("Settings")
    secret = create_api_key(page, "E2E key")
    page.screenshot(path=screenshot_dir / "api-keys.png", full_page=True)

    # 5. The key works from outside the browser, for this creator.
    status, me = get_me_with_api_key(live_server_url, secret)
    assert status == 200
    assert me["auth_method"] == "api_key"
    assert me["creator"]["company_name"] == COMPANY

    assert console_errors == []
