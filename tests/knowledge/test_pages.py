"""Knowledge pages: bases, multi-file upload, live status fragment, test retrieval."""

import io
import re

from tests.conftest import csrf_token_from
from tests.knowledge.test_knowledge_api import GUIDE, create_kb, upload


def logged_in(client, account, page_login):
    page_login(client, account.email)
    return csrf_token_from(client.get("/knowledge/").get_data(as_text=True))


def test_create_knowledge_base_from_the_page(client, creator, page_login):
    token = logged_in(client, creator, page_login)
    response = client.post("/knowledge/", data={"csrf_token": token, "name": "Yoga basics", "description": "Poses"})
    assert response.status_code == 302
    assert "Yoga basics" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_multi_file_upload_reports_each_file_and_status_polls_until_done(client, creator, page_login, run_jobs):
    token = logged_in(client, creator, page_login)
    kb = create_kb(client, creator)
    files = [(io.BytesIO(GUIDE.encode()), "guide.md"), (io.BytesIO(b""), "empty.txt")]
    html = client.post(
        f"/knowledge/{kb['id']}/upload",
        data={"files": files},
        content_type="multipart/form-data",
        headers={"HX-Request": "true", "X-CSRFToken": token},
    ).get_data(as_text=True)
    assert "guide.md: uploaded" in html and "empty.txt: The file is empty." in html
    assert 'hx-trigger="every 1.5s"' in html  # keeps polling while the document is pending
    run_jobs()
    fragment = client.get(f"/knowledge/{kb['id']}/documents").get_data(as_text=True)
    assert "status-completed" in fragment and "every 1.5s" not in fragment  # done: polling stops


def test_an_upload_over_the_size_limit_says_why_and_stores_nothing(app, client, creator, page_login, monkeypatch):
    """The limit caps one upload's request, all its files together: the page says so, and a 413
    answers the drop zone with a message app.js shows (HTMX swaps nothing on an error)."""
    token = logged_in(client, creator, page_login)
    kb = create_kb(client, creator)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    page = client.get(f"/knowledge/{kb['id']}").get_data(as_text=True)
    assert "several at once, up to 64 KB in all" in page and "MB each" not in page
    assert 'data-error-target="#upload-messages"' in page

    files = [(io.BytesIO(b"a" * 40 * 1024), "part-1.txt"), (io.BytesIO(b"b" * 40 * 1024), "part-2.txt")]
    response = client.post(
        f"/knowledge/{kb['id']}/upload",
        data={"files": files},
        content_type="multipart/form-data",
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )

    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "data-error-message" in html and "<html" not in html  # a fragment, not the error page
    assert "over 64 KB, the most one upload can carry (all files together)" in html
    listed = client.get(f"/api/v1/knowledge-bases/{kb['id']}/documents", headers=creator.headers).json
    assert listed["documents"] == []


def test_an_oversized_upload_without_htmx_gets_the_error_page_with_the_reason(
    app, client, creator, page_login, monkeypatch
):
    token = logged_in(client, creator, page_login)
    kb = create_kb(client, creator)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    response = client.post(
        f"/knowledge/{kb['id']}/upload",
        data={"files": [(io.BytesIO(b"x" * 10_000), "big.txt")], "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "over 4 KB, the most one upload can carry" in response.get_data(as_text=True)


def test_document_page_lists_passages_with_sections(client, creator, page_login, run_jobs):
    logged_in(client, creator, page_login)
    kb = create_kb(client, creator)
    doc = upload(client, creator, kb["id"], "guide.md", GUIDE.encode()).json
    run_jobs()
    html = client.get(f"/knowledge/{kb['id']}/documents/{doc['id']}").get_data(as_text=True)
    assert "Rest and recovery" in html and "two full rest days" in html


def test_test_retrieval_ranks_passages_and_escapes_their_text(client, creator, page_login, run_jobs):
    logged_in(client, creator, page_login)
    kb = create_kb(client, creator)
    upload(client, creator, kb["id"], "guide.md", GUIDE.encode())
    # Plain text keeps markup literally: it must reach the page as text, never as HTML.
    hostile = b"Warm up for ten minutes <script>alert('x')</script> <img src=x onerror=alert(1)> before running."
    upload(client, creator, kb["id"], "warmup.txt", hostile)
    run_jobs()
    html = client.get("/knowledge/test-retrieval?q=how+long+should+I+warm+up", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "<mark>" in html and "Warm" in html
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_agents_cannot_open_knowledge_pages(client, creator, make_member, page_login):
    agent = make_member(creator, "agent")
    page_login(client, agent.email)
    assert client.get("/knowledge/").status_code == 403


def test_another_creators_knowledge_base_page_is_404(client, two_creators, page_login):
    alice, bob = two_creators
    bob_kb = create_kb(client, bob, name="Bob's")
    page_login(client, alice.email)
    assert client.get(f"/knowledge/{bob_kb['id']}").status_code == 404
    assert client.get(f"/knowledge/test-retrieval?q=x&kb={bob_kb['id']}").status_code == 404
    assert "Bob's" not in client.get("/knowledge/").get_data(as_text=True)


def test_repeated_retrieval_searches_replace_the_results_and_never_nest_them(client, creator, page_login, run_jobs):
    """The form targets #retrieval-results; the fragment is that element itself, swapped whole."""
    logged_in(client, creator, page_login)
    kb = create_kb(client, creator)
    upload(client, creator, kb["id"], "guide.md", GUIDE.encode())
    run_jobs()
    page = client.get("/knowledge/test-retrieval").get_data(as_text=True)
    form = re.search(r"<form[^>]*hx-target=\"#retrieval-results\"[^>]*>", page).group(0)
    assert 'hx-swap="outerHTML"' in form
    for question in ("rest days", "shoes"):
        fragment = client.get(f"/knowledge/test-retrieval?q={question}", headers={"HX-Request": "true"})
        html = fragment.get_data(as_text=True)
        assert html.count('id="retrieval-results"') == 1 and html.lstrip().startswith('<div id="retrieval-results"')
