"""FAQ entries answer instantly, frequent questions become drafts, and the
response cache reuses context-free answers until the knowledge changes."""

import pytest

from tests.assistant.test_chat_api import chat, coach, ollama  # noqa: F401  (fixtures)
from tests.knowledge.test_knowledge_api import create_kb, upload

REST = {
    "question": "How many rest days should I take?",
    "answer": "Two full rest days a week: your muscles adapt while you rest.",
    "category": "training",
    "question_variants": ["Do I need rest days?", "How often should I rest?", "do i need rest days"],
}
RESTLESS = "How many rest days should I take each week?"


def create_faq(client, account, **overrides):
    response = client.post("/api/v1/faq", headers=account.headers, json={**REST, **overrides})
    assert response.status_code == 201, response.json
    return response.json


def stats(client, account) -> dict:
    response = client.get("/api/v1/cache/stats", headers=account.headers)
    assert response.status_code == 200, response.json
    return response.json


# --- FAQ entries ---------------------------------------------------------------------


def test_a_published_entry_answers_its_question_its_variants_and_close_paraphrases(client, coach):  # noqa: F811
    entry = create_faq(client, coach)
    assert entry["question_variants"] == ["Do I need rest days?", "How often should I rest?"]  # repeat dropped
    for i, asked in enumerate(["Do I need rest days?!", "how often should i rest", "Are rest days needed?"]):
        reply = chat(client, coach, asked, user=f"u{i}", session=f"s{i}")["response"]
        assert reply["answer_mode"] == "faq" and reply["text"] == REST["answer"], asked
        assert reply["sources"] == [
            {
                "type": "faq",
                "faq_id": entry["id"],
                "document_title": "FAQ",
                "section": REST["question"],
                "score": reply["confidence"],
                "snippet": REST["answer"],
            }
        ]
    assert client.get(f"/api/v1/faq/{entry['id']}", headers=coach.headers).json["hits"] == 3
    other = chat(client, coach, "When should I replace my running shoes?", user="u9", session="s9")["response"]
    assert other["answer_mode"] == "extractive"  # unrelated questions still go to the knowledge


def test_drafts_do_not_answer_and_prohibited_topics_win(client, coach):  # noqa: F811
    create_faq(client, coach, status="draft")
    assert chat(client, coach, "Do I need rest days?")["response"]["answer_mode"] != "faq"
    config = {"prohibited_topics": ["rest days"]}
    assert client.put("/api/v1/creators/ai-config", headers=coach.headers, json=config).status_code == 200
    create_faq(client, coach, question="What about rest days for my knee?", question_variants=[])
    reply = chat(client, coach, "What about rest days for my knee?", user="u2", session="s2")["response"]
    assert reply["answer_mode"] == "fallback"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"answer": "x"}, "question"),
        ({"question": "Hi?", "answer": ""}, "answer"),  # published needs an answer
        ({"question": "Valid question?", "answer": "x", "status": "live"}, "status"),
        ({"question": "Valid question?", "answer": "x", "question_variants": ["v"] * 21}, "question_variants"),
        ({"question": "Valid question?", "answer": "x", "question_variants": "not a list"}, "question_variants"),
    ],
)
def test_bad_entries_are_refused_with_the_field_named(client, creator, body, field):
    response = client.post("/api/v1/faq", headers=creator.headers, json=body)
    assert response.status_code == 422
    assert field in str(response.json["error"]["details"])
    assert client.get("/api/v1/faq", headers=creator.headers).json["pagination"]["total"] == 0


def test_entries_are_listed_updated_published_and_deleted(client, creator):
    draft = create_faq(client, creator, answer="", status="draft")
    refused = client.patch(f"/api/v1/faq/{draft['id']}", headers=creator.headers, json={"status": "published"})
    assert refused.status_code == 422  # still no answer: the draft is kept as it was
    assert client.get(f"/api/v1/faq/{draft['id']}", headers=creator.headers).json["status"] == "draft"
    published = client.patch(
        f"/api/v1/faq/{draft['id']}", headers=creator.headers, json={"answer": "Two.", "status": "published"}
    ).json
    assert published["status"] == "published" and published["question"] == REST["question"]
    listed = client.get("/api/v1/faq?status=published", headers=creator.headers).json
    assert [f["id"] for f in listed["faqs"]] == [draft["id"]]
    assert client.delete(f"/api/v1/faq/{draft['id']}", headers=creator.headers).status_code == 204
    assert client.get(f"/api/v1/faq/{draft['id']}", headers=creator.headers).status_code == 404


def test_a_second_published_entry_asking_the_same_question_is_a_conflict_naming_the_first(client, two_creators):
    alice, bob = two_creators
    first = create_faq(client, alice)
    contradicting = {**REST, "answer": "Rest days are for the weak.", "question_variants": []}
    for body, field, phrasing in (
        (
            contradicting | {"question": "how many REST days should I take"},
            "question",
            "how many REST days should I take",
        ),
        (contradicting | {"question": "Do I need rest days?"}, "question", "Do I need rest days?"),  # a variant
        (
            contradicting | {"question": "Rest?", "question_variants": ["Fine", "How many rest days should I take!"]},
            "question_variants",
            "How many rest days should I take!",
        ),
    ):
        response = client.post("/api/v1/faq", headers=alice.headers, json=body)
        assert response.status_code == 409, response.json
        error = response.json["error"]
        assert error["code"] == "CONFLICT" and f"“{REST['question']}”" in error["message"]
        assert error["details"] == [{"field": field, "message": error["message"], "faq_id": first["id"]}]
        assert f"“{phrasing}”" in error["message"]
    assert client.get("/api/v1/faq", headers=alice.headers).json["pagination"]["total"] == 1

    # A draft may repeat it (to rework the answer), but is not published while the first is.
    draft = create_faq(client, alice, **contradicting, status="draft")
    publish = client.patch(f"/api/v1/faq/{draft['id']}", headers=alice.headers, json={"status": "published"})
    assert publish.status_code == 409 and publish.json["error"]["details"][0]["faq_id"] == first["id"]
    assert client.get(f"/api/v1/faq/{draft['id']}", headers=alice.headers).json["status"] == "draft"
    # The first entry is edited freely, and another creator may ask the same question.
    edited = client.patch(f"/api/v1/faq/{first['id']}", headers=alice.headers, json={"answer": "Two or three."})
    assert edited.status_code == 200 and edited.json["answer"] == "Two or three."
    create_faq(client, bob)
    # With the first unpublished, the other may take its place.
    client.patch(f"/api/v1/faq/{first['id']}", headers=alice.headers, json={"status": "draft"})
    published = client.patch(f"/api/v1/faq/{draft['id']}", headers=alice.headers, json={"status": "published"})
    assert published.status_code == 200 and published.json["answer"] == "Rest days are for the weak."


def test_agents_are_refused_the_faq_as_on_the_dashboard(client, creator, make_member):
    agent = make_member(creator, "agent")
    assert client.get("/api/v1/faq", headers=agent.headers).status_code == 403
    assert client.post("/api/v1/faq", headers=agent.headers, json=REST).status_code == 403


def test_another_creators_entries_are_invisible_and_never_answer(client, two_creators, run_jobs):
    alice, bob = two_creators
    entry = create_faq(client, alice)
    assert client.get(f"/api/v1/faq/{entry['id']}", headers=bob.headers).status_code == 404
    assert client.patch(f"/api/v1/faq/{entry['id']}", headers=bob.headers, json={"answer": "x"}).status_code == 404
    assert client.delete(f"/api/v1/faq/{entry['id']}", headers=bob.headers).status_code == 404
    assert client.get("/api/v1/faq", headers=bob.headers).json["faqs"] == []
    assert chat(client, bob, "Do I need rest days?")["response"]["answer_mode"] == "fallback"


# --- Extraction --------------------------------------------------------------------


def test_frequent_questions_become_drafts_with_the_best_answer_they_got(client, coach):  # noqa: F811
    asked = [RESTLESS, RESTLESS.lower(), "How many rest days should I take each week", "How many rest days per week?"]
    asked += ["Do you offer a refund?", "do you offer a refund", "Do you offer refunds?"]
    asked += ["When should I replace my running shoes?"]  # asked once: not frequent
    for i, question in enumerate(asked):
        chat(client, coach, question, user=f"u{i}", session=f"s{i}")
    body = client.post("/api/v1/faq/extract", headers=coach.headers, json={"min_frequency": 3}).json
    assert body["extracted"] == 2
    rest, refund = body["faqs"]
    assert rest["question"] == RESTLESS and rest["frequency"] == 4 and rest["status"] == "draft"
    assert "How many rest days per week?" in rest["question_variants"] and rest["source"] == "extracted"
    assert "two full rest days" in rest["answer"] and 0.78 <= rest["confidence"] <= 1
    assert refund["frequency"] == 3 and refund["answer"] == ""  # nobody could answer it: the gap to fill
    again = client.post("/api/v1/faq/extract", headers=coach.headers, json={"min_frequency": 3}).json
    assert again["extracted"] == 0  # drafts already cover them


def test_an_agents_reply_is_the_preferred_answer(client, coach):  # noqa: F811
    for i in range(3):
        body = chat(client, coach, "Do you offer a refund?", user=f"u{i}", session=f"s{i}")
    client.post(
        f"/api/v1/conversations/{body['conversation_id']}/reply",
        headers=coach.headers,
        json={"message": "Yes, within 14 days of purchase."},
    )
    faqs = client.post("/api/v1/faq/extract", headers=coach.headers, json={"min_frequency": 3}).json["faqs"]
    assert faqs[0]["answer"] == "Yes, within 14 days of purchase."


def test_extract_validates_its_input(client, creator):
    response = client.post("/api/v1/faq/extract", headers=creator.headers, json={"min_frequency": 1})
    assert response.status_code == 422 and "min_frequency" in str(response.json["error"]["details"])


# --- Response cache ----------------------------------------------------------------


def test_a_first_question_is_cached_and_reused_for_the_next_asker(client, coach):  # noqa: F811
    first = chat(client, coach, RESTLESS, user="u1", session="s1")["response"]
    assert first["cached_response"] is False and first["answer_mode"] == "extractive"
    second = chat(client, coach, RESTLESS.upper() + "!", user="u2", session="s2")["response"]
    assert second["cached_response"] is True
    assert (second["text"], second["sources"], second["answer_mode"]) == (
        first["text"],
        first["sources"],
        first["answer_mode"],
    )
    figures = stats(client, coach)
    assert figures["total_cached"] == 1 and figures["total_hits"] == 1
    assert figures["hit_rate"] == 50.0 and figures["by_channel"]["api"] == {
        "answers": 2,
        "cache_hits": 1,
        "hit_rate": 50.0,
    }
    assert figures["top_queries"] == [{"query": RESTLESS, "hits": 1}]  # as first asked


def test_follow_ups_and_personal_turns_never_touch_the_cache(client, coach):  # noqa: F811
    chat(client, coach, "Hello there", user="u1", session="s1")
    follow_up = chat(client, coach, RESTLESS, user="u1", session="s1")["response"]
    assert follow_up["cached_response"] is False
    personal = chat(client, coach, "My name is Sam. " + RESTLESS, user="u2", session="s2")["response"]
    assert personal["cached_response"] is False
    assert stats(client, coach)["total_cached"] == 0  # neither answer was kept for others


def test_new_knowledge_or_a_new_persona_stops_old_answers_matching(client, coach, run_jobs):  # noqa: F811
    chat(client, coach, RESTLESS, user="u1", session="s1")
    kb = create_kb(client, coach, name="More")
    upload(client, coach, kb["id"], "rest.md", b"# Rest\n\nRest days matter: take two every week, and sleep well.")
    run_jobs()
    assert chat(client, coach, RESTLESS, user="u2", session="s2")["response"]["cached_response"] is False
    assert client.put("/api/v1/creators/ai-config", headers=coach.headers, json={"tone": "direct"}).status_code == 200
    assert chat(client, coach, RESTLESS, user="u3", session="s3")["response"]["cached_response"] is False
    assert chat(client, coach, RESTLESS, user="u4", session="s4")["response"]["cached_response"] is True


def test_warming_answers_ahead_and_clearing_forgets(client, coach, run_jobs):  # noqa: F811
    response = client.post(
        "/api/v1/cache/warm",
        headers=coach.headers,
        json={"queries": [RESTLESS, "What is the capital of Mongolia?", RESTLESS]},
    )
    assert response.status_code == 202 and response.json["queued"] == 2
    run_jobs()
    assert stats(client, coach)["total_cached"] == 1  # the unanswerable one is not kept
    assert chat(client, coach, RESTLESS)["response"]["cached_response"] is True
    assert client.delete("/api/v1/cache", headers=coach.headers).json == {"cleared": 1}
    assert stats(client, coach)["total_cached"] == 0
    bad = client.post("/api/v1/cache/warm", headers=coach.headers, json={"queries": []})
    assert bad.status_code == 422 and "queries" in str(bad.json["error"]["details"])


def test_llm_answers_are_cached_but_an_offline_fallback_never_is(app, client, coach, ollama):  # noqa: F811
    first = chat(client, coach, RESTLESS, user="u1", session="s1")["response"]
    assert first["answer_mode"] == "llm" and first["cached_response"] is False
    second = chat(client, coach, RESTLESS, user="u2", session="s2")["response"]
    assert second["answer_mode"] == "llm" and second["cached_response"] is True
    assert len(ollama.requests_to("/api/chat")) == 1  # the model was asked once
    client.delete("/api/v1/cache", headers=coach.headers)
    ollama.fail_next(times=2, path="/api/chat")
    down = chat(client, coach, RESTLESS, user="u3", session="s3")["response"]
    assert down["answer_mode"] == "extractive"
    assert stats(client, coach)["total_cached"] == 0  # kept only once the model answers again


def test_cached_answers_stay_with_their_creator(client, two_creators, run_jobs):
    alice, bob = two_creators
    for account in two_creators:
        kb = create_kb(client, account)
        upload(client, account, kb["id"], "guide.md", f"# Rest\n\n{account.email} says: rest two days.".encode())
    run_jobs()
    chat(client, alice, "How many days should I rest?", user="u1", session="s1")
    reply = chat(client, bob, "How many days should I rest?", user="u1", session="s1")["response"]
    assert reply["cached_response"] is False and alice.email not in reply["text"]
    assert stats(client, bob)["total_cached"] == 1 and stats(client, bob)["top_queries"] == []
