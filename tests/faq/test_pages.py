"""The FAQ & cache page: entries, review of suggested drafts, warming and clearing the cache."""

import html as html_lib

from tests.assistant.test_chat_api import chat, coach  # noqa: F401  (fixture)
from tests.conftest import csrf_token_from
from tests.faq.test_faq_api import RESTLESS, stats


def open_page(client, account, page_login) -> tuple[str, str]:
    page_login(client, account.email)
    response = client.get("/faq/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return html, csrf_token_from(html)


def test_create_an_entry_from_the_page_and_it_answers(client, coach, page_login):  # noqa: F811
    _, token = open_page(client, coach, page_login)
    form = {
        "csrf_token": token,
        "question": "Do you offer a <b>refund</b>?",
        "question_variants": "Can I get my money back?\n\nRefunds?",
        "answer": "Yes, within 14 days.",
        "category": "billing",
        "status": "published",
    }
    response = client.post("/faq/new", data=form)
    assert response.status_code == 302
    html = client.get("/faq/").get_data(as_text=True)
    assert "Do you offer a &lt;b&gt;refund&lt;/b&gt;?" in html and "Can I get my money back? · Refunds?" in html
    assert chat(client, coach, "Can I get my money back?")["response"]["text"] == "Yes, within 14 days."


def test_bad_form_input_is_shown_and_nothing_is_saved(client, coach, page_login):  # noqa: F811
    _, token = open_page(client, coach, page_login)
    response = client.post(
        "/faq/new", data={"csrf_token": token, "question": "Hi", "answer": "", "status": "published"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Field must be between 3 and 500 characters long." in html and 'value="Hi"' in html
    no_answer = client.post(
        "/faq/new", data={"csrf_token": token, "question": "Valid question?", "answer": "", "status": "published"}
    )
    assert no_answer.status_code == 422 and "A published FAQ entry needs an answer." in no_answer.get_data(as_text=True)
    assert client.get("/api/v1/faq", headers=coach.headers).json["faqs"] == []
    # The address bar now shows /faq/new: opening it again leads back to the page, not a 405.
    assert client.get("/faq/new").headers["Location"].endswith("/faq/")


def test_a_duplicate_published_question_is_shown_on_its_field_and_not_saved(client, coach, page_login):  # noqa: F811
    _, token = open_page(client, coach, page_login)
    form = {"csrf_token": token, "question": "Refunds?", "answer": "Yes, within 14 days.", "status": "published"}
    assert client.post("/faq/new", data=form).status_code == 302
    again = form | {"question": "Money back?", "question_variants": "refunds", "answer": "Never."}
    response = client.post("/faq/new", data=again)
    assert response.status_code == 422
    html = html_lib.unescape(response.get_data(as_text=True))
    message = "“refunds” is already answered by the published entry “Refunds?”"
    variants = html[html.index('name="question_variants"') :]
    assert message in variants[: variants.index('name="answer"')]  # under the variants field
    assert [f["answer"] for f in client.get("/api/v1/faq", headers=coach.headers).json["faqs"]] == [form["answer"]]


def test_suggest_review_and_publish_a_draft(client, coach, page_login):  # noqa: F811
    for i in range(3):
        chat(client, coach, RESTLESS, user=f"u{i}", session=f"s{i}")
    _, token = open_page(client, coach, page_login)
    response = client.post("/faq/extract", data={"csrf_token": token, "min_frequency": 3, "days": 30})
    assert response.status_code == 302
    html = client.get("/faq/").get_data(as_text=True)
    assert "1 frequent question added as drafts" in html and "asked 3×" in html
    draft = client.get("/api/v1/faq", headers=coach.headers).json["faqs"][0]
    page = client.get(f"/faq/{draft['id']}").get_data(as_text=True)
    assert "Suggested from your conversations: asked 3 times" in page
    form = {
        "csrf_token": token,
        "question": draft["question"],
        "question_variants": "",
        "answer": "Two a week.",
        "status": "published",
    }
    assert client.post(f"/faq/{draft['id']}", data=form).status_code == 302
    assert chat(client, coach, RESTLESS, user="u9", session="s9")["response"]["answer_mode"] == "faq"


def test_warm_and_clear_the_cache_from_the_page(client, coach, page_login, run_jobs):  # noqa: F811
    _, token = open_page(client, coach, page_login)
    bad = client.post("/faq/cache/warm", data={"csrf_token": token, "queries": "\n".join(["Why?"] * 2 + ["x"])})
    assert bad.status_code == 422 and "Each question is 3 to 500 characters." in bad.get_data(as_text=True)
    response = client.post("/faq/cache/warm", data={"csrf_token": token, "queries": RESTLESS})
    assert response.status_code == 302
    run_jobs()
    chat(client, coach, RESTLESS)
    html = client.get("/faq/").get_data(as_text=True)
    assert "1 cached answer, reused 1 time." in html and RESTLESS in html
    assert client.post("/faq/cache/clear", data={"csrf_token": token}).status_code == 302
    assert stats(client, coach)["total_cached"] == 0


def test_agents_cannot_open_the_page(client, creator, make_member, page_login):
    page_login(client, make_member(creator, "agent").email)
    assert client.get("/faq/").status_code == 403


def test_another_creators_entries_are_404(client, two_creators, page_login):
    alice, bob = two_creators
    entry = client.post("/api/v1/faq", headers=alice.headers, json={"question": "Refunds?", "answer": "Yes."}).json
    _, token = open_page(client, bob, page_login)
    assert client.get(f"/faq/{entry['id']}").status_code == 404
    assert client.post(f"/faq/{entry['id']}/delete", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/api/v1/faq/{entry['id']}", headers=alice.headers).status_code == 200
