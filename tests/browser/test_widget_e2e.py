"""The chat widget end to end: a creator's web page on another origin, a visitor, and an agent.

The creator's page is served by a second local HTTP server (another port, so
another origin) and holds nothing but the embed code the API hands out. The
visitor chats in headless Chromium; the agent answers from the dashboard's
Inbox in a second browser context; the reply reaches the widget live.
"""

import json
import re
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.test_dashboard_e2e import assert_page_ok, click_and_load, collect_console_errors
from tests.browser.test_knowledge_e2e import log_in
from tests.knowledge.test_knowledge_api import GUIDE, create_kb, upload

LIVE = 8_000  # the inbox polls every 2 s; the widget's socket forwards pub/sub events every 0.2 s
ANSWER = 15_000  # retrieval and the extractive answer, on a cold embedding model
WIDGET = "[data-creatorhub-widget]"  # Playwright's CSS locators pierce the widget's open Shadow DOM
QUESTION = "How many rest days should I take each week?"
# A document with the same traps: whatever the answer quotes from it stays text.
HYDRATION = (
    "Hydration\n\nDrink half a litre of water two hours before a long run. "
    '<img src=x onerror=alert(1)> <b>bold</b> <a href="javascript:alert(2)">click</a> <i hx-get="/inbox">x</i> '
    "![x](http://outside.example/pixel.png)\n"
)
HOSTILE = (
    "Check <img src=x onerror=alert(1)> and <b>bold</b> "
    '<a href="javascript:alert(2)">click me</a> '
    '<div hx-get="/inbox" hx-trigger="load" hx-target="body">swap</div> '
    "![x](http://outside.example/pixel.png)"
)


class _Site(BaseHTTPRequestHandler):
    pages: dict[str, str] = {}

    def do_GET(self):  # noqa: N802 (the http.server API)
        if self.path == "/favicon.ico":  # the browser asks; a 404 would be a console error
            self.send_response(204)
            self.end_headers()
            return
        html = self.pages.get(self.path)
        body = (html or "Not found").encode()
        self.send_response(200 if html else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # keep the test output quiet


@dataclass
class Site:
    """The creator's own website: a second origin, pages by path."""

    origin: str
    pages: dict = field(default_factory=dict)

    def publish(self, path: str, embed_code: str) -> str:
        self.pages[path] = (
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>Coach Ana's site</title></head>"
            f"<body>{embed_code}</body></html>"
        )
        return self.origin + path


@pytest.fixture(scope="session")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Site(f"http://127.0.0.1:{server.server_port}", _Site.pages)
    server.shutdown()
    server.server_close()


def embed_code(live_server_url: str, account, channel_id: str) -> str:
    """Asked over real HTTP, so the script URL names the live server as a creator would see it."""
    request = urllib.request.Request(
        f"{live_server_url}/api/v1/channels/{channel_id}/embed-code", headers=account.headers
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["embed_code"]


@pytest.fixture
def coach_page(client, creator, run_jobs, live_server_url, site):
    """A knowledge base with the training guide, a web channel allowing the site, and the site's page."""
    kb = create_kb(client, creator)
    assert upload(client, creator, kb["id"], "guide.md", GUIDE.encode()).status_code == 201
    assert run_jobs() >= 1
    return widget_site_page(client, creator, live_server_url, site, "coaching")


def widget_site_page(client, creator, live_server_url, site, name: str, allowed: list[str] | None = None) -> str:
    """A web channel that allows the site (or only `allowed`), and the site's page `name` with its embed code."""
    created = client.post(
        "/api/v1/channels",
        headers=creator.headers,
        json={
            "channel_type": "web",
            "channel_name": "Website",
            "configuration": {"allowed_origins": allowed or [site.origin], "title": "Ask Coach Ana"},
        },
    )
    assert created.status_code == 201, created.json
    channel_id = created.json["id"]
    return site.publish(f"/{name}-{channel_id}.html", embed_code(live_server_url, creator, channel_id))


class Watch:
    """What one browser context did: every request URL, socket frames received, dialogs and errors."""

    def __init__(self, context: BrowserContext, page: Page):
        self.urls, self.frames, self.dialogs = [], [], []
        context.on("request", lambda request: self.urls.append(request.url))
        page.on("websocket", self._socket)
        page.on("dialog", self._dialog)
        self.errors = collect_console_errors(page)

    def _socket(self, socket):
        self.urls.append(socket.url)
        socket.on("framereceived", lambda payload: self.frames.append(json.loads(payload)))

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def foreign_hosts(self, *origins: str) -> list[str]:
        allowed = {urlsplit(origin).netloc for origin in origins}
        return [url for url in self.urls if urlsplit(url).scheme != "data" and urlsplit(url).netloc not in allowed]

    def conversation_id(self) -> str:
        return next(f["conversation_id"] for f in self.frames if f["type"] == "connection_established")


@pytest.fixture
def agent_page(browser: Browser):
    """The agent's own browser context: the dashboard, logged in separately from the visitor."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    yield context, context.new_page()
    context.close()


def open_widget(page: Page):
    page.locator(f"{WIDGET} .launcher").click()
    expect(page.locator(f"{WIDGET} .panel")).to_be_visible()


def ask(page: Page, text: str):
    page.locator(f"{WIDGET} textarea").fill(text)
    page.locator(f"{WIDGET} .send").click()


def agent_opens_conversation(page: Page, base_url: str, account, conversation_id: str):
    assert_page_ok(page, log_in(page, base_url, account.email, account.password), "login")
    page.goto(f"{base_url}/inbox")
    row = page.locator(f"#conversation-{conversation_id}")
    expect(row).to_have_class(re.compile(r"\bis-escalated\b"), timeout=LIVE)
    assert_page_ok(page, click_and_load(page, f"#conversation-{conversation_id} a"), "conversation page")


def agent_replies(page: Page, text: str):
    page.get_by_label("Reply").fill(text)
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".msg-agent .msg-body").last).to_have_text(text)


def test_visitor_asks_the_widget_then_a_human_answers_from_the_inbox(
    page: Page, agent_page, live_server_url, site, coach_page, creator, screenshot_dir
):
    agent_context, agent = agent_page
    visitor, staff = Watch(page.context, page), Watch(agent_context, agent)

    # 1. The creator's page on another origin shows the launcher; the panel opens with the channel's config.
    page.goto(coach_page)
    open_widget(page)
    expect(page.locator(f"{WIDGET} .title")).to_have_text("Ask Coach Ana")
    expect(page.locator(f"{WIDGET} .msg.ai").first).to_contain_text("Hello! How can I help you today?")

    # 2. A question answered from the uploaded guide, streamed token by token, with its source.
    page.evaluate("window.__marker = 1")
    ask(page, QUESTION)
    expect(page.locator(f"{WIDGET} .msg.user .body")).to_have_text(QUESTION)
    answer = page.locator(f"{WIDGET} .msg.ai").last
    expect(answer.locator(".body")).to_contain_text("two full rest days", timeout=ANSWER)
    expect(answer.locator(".sources")).to_contain_text("Source: guide")
    expect(answer.locator(".note")).to_contain_text("no AI model is connected")
    assert any("delta" in f for f in visitor.frames), "the answer was not streamed"

    # 3. Talk to a human.
    page.locator(f"{WIDGET} .human").click()
    expect(page.locator(f"{WIDGET} .msg.system").last).to_have_text(
        "Thanks! A team member will reply here as soon as possible."
    )
    page.screenshot(path=screenshot_dir / "widget-answer.png")

    # 4. The agent opens it in the Inbox and replies; the widget shows it without a reload.
    conversation_id = visitor.conversation_id()
    agent_opens_conversation(agent, live_server_url, creator, conversation_id)
    expect(agent.locator(".inbox-statusbar")).to_contain_text("Waiting for a human: visitor asked for a human")
    expect(agent.locator(".msg-user .msg-body")).to_have_text(QUESTION)
    expect(agent.locator(".msg-ai .msg-sources")).to_contain_text("guide")
    agent_replies(agent, "Hi, Alice here: two rest days is right. Want a plan?")
    expect(agent.locator(".inbox-statusbar")).to_contain_text("You have this conversation", timeout=1_500)
    reply = page.locator(f"{WIDGET} .msg.agent")
    expect(reply.locator(".body")).to_have_text("Hi, Alice here: two rest days is right. Want a plan?", timeout=LIVE)
    expect(reply.locator(".who")).to_have_text("Alice Coach")
    expect(page.locator(f"{WIDGET} .msg.system").last).to_have_text("Alice Coach joined the conversation")
    assert page.evaluate("window.__marker") == 1, "the visitor's page was reloaded"
    page.screenshot(path=screenshot_dir / "widget-agent-reply.png")
    agent.screenshot(path=screenshot_dir / "widget-inbox-conversation.png", full_page=True)

    # 5. The visitor's next message reaches the agent live (the AI stays paused).
    ask(page, "Yes please, three runs a week.")
    expect(page.locator(f"{WIDGET} .msg.system").last).to_have_text("A team member has this conversation.")
    expect(agent.locator(".msg-user .msg-body").last).to_have_text("Yes please, three runs a week.", timeout=LIVE)

    # 6. A reload keeps the conversation: same visitor, whole history, sources included.
    page.reload()
    open_widget(page)
    log = page.locator(f"{WIDGET} .log")
    expect(log.locator(".msg.user .body")).to_have_text([QUESTION, "Yes please, three runs a week."])
    expect(log.locator(".msg.ai").last.locator(".sources")).to_contain_text("Source: guide")
    expect(log.locator(".msg.agent .body")).to_have_text("Hi, Alice here: two rest days is right. Want a plan?")
    expect(log.locator(".msg.agent .who")).to_have_text("Alice Coach")  # named in the history too
    expect(log.locator(".msg.system").last).to_have_text("A team member has this conversation.")
    expect(log.locator(".msg.system").last).to_be_in_viewport()  # opened scrolled to the newest message
    assert visitor.conversation_id() == conversation_id
    assert [f["conversation_id"] for f in visitor.frames if f["type"] == "connection_established"] == [
        conversation_id,
        conversation_id,
    ]
    page.screenshot(path=screenshot_dir / "widget-after-reload.png")

    assert visitor.errors == [] and staff.errors == []
    assert visitor.dialogs == [] and staff.dialogs == []
    assert visitor.foreign_hosts(live_server_url, site.origin) == []
    assert staff.foreign_hosts(live_server_url) == []


def test_markup_links_and_images_in_messages_are_shown_as_text_and_nothing_is_fetched(
    page: Page, agent_page, client, run_jobs, live_server_url, site, coach_page, creator, screenshot_dir
):
    kb = create_kb(client, creator, name="Tips")
    assert upload(client, creator, kb["id"], "hydration.txt", HYDRATION.encode()).status_code == 201
    assert run_jobs() >= 1
    agent_context, agent = agent_page
    visitor, staff = Watch(page.context, page), Watch(agent_context, agent)
    page.goto(coach_page)
    open_widget(page)
    log = page.locator(f"{WIDGET} .log")
    ask(page, "How much water should I drink before a long run?")
    answer = log.locator(".msg.ai").last
    expect(answer.locator(".body")).to_contain_text("Drink half a litre of water", timeout=ANSWER)
    expect(answer.locator(".sources")).to_contain_text("Source: hydration")
    ask(page, HOSTILE)
    expect(log.locator(".msg.user .body").last).to_have_text(HOSTILE)
    expect(log.locator(".msg.ai")).to_have_count(3, timeout=ANSWER)  # the welcome and two answers
    page.locator(f"{WIDGET} .human").click()
    expect(log.locator(".msg.system").last).to_contain_text("A team member will reply")

    agent_opens_conversation(agent, live_server_url, creator, visitor.conversation_id())
    expect(agent.locator(".msg-user .msg-body").last).to_have_text(HOSTILE)
    expect(agent.locator(".msg-ai .msg-sources").first).to_contain_text("hydration")
    agent_replies(agent, "Got it: <i>no markup</i> here.")
    expect(log.locator(".msg.agent .body")).to_have_text("Got it: <i>no markup</i> here.", timeout=LIVE)
    page.screenshot(path=screenshot_dir / "widget-hostile-input.png")
    agent.screenshot(path=screenshot_dir / "widget-hostile-inbox.png", full_page=True)

    for element in ("img", "b", "i", "a", "[hx-get]", "[onerror]"):
        expect(log.locator(element)).to_have_count(0)
        expect(agent.locator(f"#thread {element}")).to_have_count(0)
    assert visitor.dialogs == [] and staff.dialogs == []
    assert visitor.foreign_hosts(live_server_url, site.origin) == []
    assert staff.foreign_hosts(live_server_url) == []
    assert not any("outside.example" in url for url in visitor.urls + staff.urls)
    assert visitor.errors == [] and staff.errors == []


def test_on_a_website_the_channel_does_not_allow_the_widget_says_it_is_unavailable(
    page: Page, client, live_server_url, site, creator, screenshot_dir
):
    url = widget_site_page(client, creator, live_server_url, site, "elsewhere", allowed=["https://coach.example"])
    visitor = Watch(page.context, page)
    with page.expect_response(re.compile(r"/widget/.+/session$")) as refusal:
        page.goto(url)
    assert refusal.value.status == 403
    open_widget(page)
    state = page.locator(f"{WIDGET} .state")
    expect(state).to_have_text("Chat is unavailable on this page.")
    expect(page.locator(f"{WIDGET} textarea")).to_be_disabled()
    page.screenshot(path=screenshot_dir / "widget-unavailable.png")
    assert sum("/session" in u for u in visitor.urls) == 1 and not any(u.startswith("ws") for u in visitor.urls)
    # The browser reads the refusal (CORS): its only console line is the 403 itself, no CORS error.
    assert all("status of 403" in e for e in visitor.errors), visitor.errors
