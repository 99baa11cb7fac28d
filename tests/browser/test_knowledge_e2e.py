"""Knowledge end to end, in a real headless Chromium against the live server.

One journey, as a creator would take it: log in, open Knowledge from the
sidebar, create a knowledge base, drop two files on the upload zone at once,
watch their status change by itself (HTMX polling, no reload) once the worker
has run, read a document's passages, ask a question on the test-retrieval
page, and see a bad file refused with its own message.

No worker runs in tests: documents stay pending until the test calls
`run_jobs()`, which processes what the browser uploaded (the live server
shares the app, the database and the queue with the test).
"""

import re
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page, expect

from tests.browser.test_dashboard_e2e import assert_page_ok, click_and_load, collect_console_errors

KB_NAME = "Marathon course"
QUESTION = "How many rest days per week?"
REST_DAYS = "Take two full rest days every week, and never two hard sessions in a row."

GUIDE_MD = f"""# Marathon training guide

## Rest days

{REST_DAYS} Recovery is when your muscles adapt; skipping it raises the risk of
overuse injuries such as shin splints.

## Nutrition

Eat a carbohydrate-rich meal three hours before a long run. During runs longer than
ninety minutes, take 30 to 60 grams of carbohydrate per hour.

## Shoes

Replace running shoes every 500 to 800 kilometres, when the midsole cushioning is worn.
""".encode()

RACE_DAY_HTML = b"""<!doctype html>
<html><head><title>Race day checklist</title></head>
<body>
<h1>Race day checklist</h1>
<p>Pin your bib to the front of your shirt and arrive at the start an hour early.</p>
<p>Line up in the corral that matches your expected finish time.</p>
</body></html>
"""

MD_FILE = {"name": "training-guide.md", "mimeType": "text/markdown", "buffer": GUIDE_MD}
HTML_FILE = {"name": "race-day.html", "mimeType": "text/html", "buffer": RACE_DAY_HTML}
EMPTY_FILE = {"name": "empty.txt", "mimeType": "text/plain", "buffer": b""}

POLL_TIMEOUT = 10_000  # the table polls every 1.5 s


def log_in(page: Page, base_url: str, email: str, password: str):
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    return click_and_load(page, "button[type=submit]")


def open_knowledge_from_sidebar(page: Page, base_url: str):
    response = click_and_load(page, 'nav a[data-nav="knowledge"]')
    assert_page_ok(page, response, "Knowledge from the sidebar")
    assert page.url == f"{base_url}/knowledge/", (
        f"the sidebar's Knowledge link leads to {page.url}, not to the knowledge bases page"
    )
    expect(page.locator("h1")).to_have_text("Knowledge")
    expect(page.locator('nav a[data-nav="knowledge"]')).to_have_class("active")


def create_knowledge_base(page: Page, name: str):
    page.get_by_label("Name").fill(name)
    response = click_and_load(page, "button:has-text('Create knowledge base')")
    assert_page_ok(page, response, "knowledge base creation")
    expect(page.locator("h1")).to_have_text(name)
    expect(page.locator(".flash-success")).to_contain_text(f"Knowledge base “{name}” created")


def upload_files(page: Page, files: list[dict]):
    """Choose files in the upload zone (its change handler submits it) and
    return the HTMX response once the documents table has been swapped."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/upload")) as posted:
        page.set_input_files("#upload-files", files=files)
    response = posted.value
    assert response.request.headers.get("hx-request") == "true"  # sent by HTMX, not a full-page submit
    assert response.status == 200
    return response


def document_row(page: Page, filename: str):
    return page.locator("#documents tbody tr[data-status]", has_text=filename)


def passages_cell(row):
    return row.locator("td").nth(4)


def track_main_frame_navigations(page: Page) -> list[str]:
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    return navigations


def test_creator_uploads_two_files_sees_them_processed_live_and_retrieves_the_right_passage(
    page: Page, live_server_url: str, make_creator, run_jobs, screenshot_dir
):
    console_errors = collect_console_errors(page)
    account = make_creator("Maya Runner")

    # 1. Log in through the form, open Knowledge from the sidebar, create a knowledge base.
    response = log_in(page, live_server_url, account.email, account.password)
    assert_page_ok(page, response, "login")
    assert page.url == f"{live_server_url}/"
    open_knowledge_from_sidebar(page, live_server_url)
    create_knowledge_base(page, KB_NAME)
    kb_url = page.url

    # 2. Two files at once through the upload zone: both rows appear, waiting for the worker.
    upload_files(page, [MD_FILE, HTML_FILE])
    documents, upload_messages = page.locator("#documents"), page.locator("#upload-messages .flash")
    uploaded = ["training-guide.md: uploaded, processing…", "race-day.html: uploaded, processing…"]
    expect(upload_messages).to_have_text(uploaded)
    md_row, html_row = document_row(page, "training-guide.md"), document_row(page, "race-day.html")
    for row in (md_row, html_row):
        expect(row).to_have_count(1)
        expect(row.locator(".status")).to_have_text(re.compile(r"^(Pending|Processing)$"))
        expect(passages_cell(row)).to_have_text("—")
    expect(documents).to_have_attribute("hx-trigger", "every 1.5s")  # polls while anything is busy

    # 3. The worker runs; the table updates by itself, without a reload.
    page.evaluate("window.__marker = 1")
    navigations = track_main_frame_navigations(page)
    assert run_jobs() >= 2
    for row in (md_row, html_row):
        expect(row.locator(".status")).to_have_text("Completed", timeout=POLL_TIMEOUT)
        expect(passages_cell(row)).to_have_text(re.compile(r"^[1-9]\d*$"), timeout=POLL_TIMEOUT)
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    assert navigations == [] and page.url == kb_url
    expect(documents).not_to_have_attribute("hx-trigger", "every 1.5s")  # all done: polling stops
    expect(upload_messages).to_have_text(uploaded)  # the table's refreshes leave the upload's report alone
    md_passages = int(passages_cell(md_row).inner_text())
    assert md_passages >= 3  # one per section at least: rest days, nutrition, shoes
    page.screenshot(path=screenshot_dir / "knowledge-detail.png", full_page=True)

    # 4. A document's page lists its passages under their section headings.
    response = click_and_load(page, "#documents a:has-text('training-guide')")
    assert_page_ok(page, response, "document page")
    expect(page.locator("h1")).to_have_text("training-guide")
    passages = page.locator("article.passage")
    expect(passages).to_have_count(md_passages)
    sections = passages.locator(".passage-head .muted").all_inner_texts()
    for heading in ("Rest days", "Nutrition", "Shoes"):
        assert any(heading in section for section in sections), f"no passage under {heading!r}: {sections}"
    rest_passage = passages.filter(has_text=REST_DAYS)
    expect(rest_passage).to_have_count(1)
    expect(rest_passage.locator(".passage-head")).to_contain_text("Rest days")
    page.screenshot(path=screenshot_dir / "knowledge-document.png", full_page=True)

    # 5. Test retrieval: only the Markdown answers this; its passage ranks first, scored and highlighted.
    click_and_load(page, f".breadcrumb a:has-text('{KB_NAME}')")
    response = click_and_load(page, ".page-actions a:has-text('Test retrieval')")
    assert_page_ok(page, response, "test retrieval")
    expect(page.get_by_label("Search in")).to_have_value(kb_url.rsplit("/", 1)[-1])  # this knowledge base
    page.get_by_label("Question").fill(QUESTION)
    with page.expect_response(lambda r: "/knowledge/test-retrieval" in r.url and "q=" in r.url) as searched:
        page.get_by_role("button", name="Search").click()
    assert searched.value.request.headers.get("hx-request") == "true"
    results = page.locator("#retrieval-results article.result")
    expect(results.first).to_be_visible()
    first = results.first
    expect(first.locator(".rank")).to_have_text("1")
    expect(first.locator(".passage-head a")).to_have_text("training-guide")
    expect(first.locator(".passage-head")).to_contain_text("Rest days")
    expect(first.locator(".passage-text")).to_contain_text(REST_DAYS)
    expect(first.locator(".score")).to_have_text(re.compile(r"^\d\.\d{3}$"))
    marked = {text.lower() for text in first.locator(".passage-text mark").all_inner_texts()}
    assert {"rest", "days", "week"} <= marked, marked
    # The search is pushed to the address bar, so it can be shared or reloaded.
    assert parse_qs(urlparse(page.url).query)["q"] == [QUESTION]
    # Searching again replaces the results: one #retrieval-results, never one inside another.
    for question in ("When should I replace my shoes?", QUESTION):
        page.get_by_label("Question").fill(question)
        with page.expect_response(lambda r: "/knowledge/test-retrieval" in r.url and "q=" in r.url):
            page.get_by_role("button", name="Search").click()
        expect(results.first.locator(".passage-text")).to_contain_text(question.split()[-1].rstrip("?"))
        expect(page.locator("#retrieval-results")).to_have_count(1)
        expect(page.locator("#retrieval-results #retrieval-results")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "test-retrieval.png", full_page=True)

    # 6. A bad file: refused with its own message, the documents already there stay listed.
    page.goto(kb_url)
    upload_files(page, [EMPTY_FILE])
    expect(upload_messages).to_have_text(["empty.txt: The file is empty."])
    expect(upload_messages).to_have_class(re.compile(r"\bflash-error\b"))
    expect(page.locator("#documents tbody tr[data-status]")).to_have_count(2)
    for row in (md_row, html_row):
        expect(row.locator(".status")).to_have_text("Completed")
    expect(document_row(page, "empty.txt")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "knowledge-upload-error.png", full_page=True)

    assert console_errors == []


def test_an_upload_over_the_size_limit_shows_why_next_to_the_drop_zone(
    page: Page, app, live_server_url: str, make_creator, monkeypatch, screenshot_dir
):
    """The limit caps one upload, all its files together; the server's 413 (which HTMX does
    not swap in) reaches the creator as a message, and nothing is stored."""
    console_errors = collect_console_errors(page)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    account = make_creator("Maya Runner")
    log_in(page, live_server_url, account.email, account.password)
    open_knowledge_from_sidebar(page, live_server_url)
    create_knowledge_base(page, KB_NAME)
    expect(page.locator(".dropzone-label")).to_contain_text("several at once, up to 64 KB in all")

    parts = [
        {"name": f"part-{n}.txt", "mimeType": "text/plain", "buffer": f"Part {n}. ".encode() * 5000} for n in (1, 2)
    ]  # 40 KB each: either alone would pass, together they do not
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/upload")) as posted:
        page.set_input_files("#upload-files", files=parts)
    assert posted.value.status == 413

    message = page.locator("#upload-messages .flash-error")
    expect(message).to_have_text(
        "This upload is over 64 KB, the most one upload can carry (all files together). "
        "Upload fewer or smaller files at a time."
    )
    expect(page.locator("#upload-progress")).to_be_hidden()
    expect(page.locator("#documents tbody tr[data-status]")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "knowledge-upload-too-large.png", full_page=True)

    # The browser and HTMX log the refused request themselves; nothing else may fail on the page.
    assert [e for e in console_errors if "413" not in e] == []
