"""Inbox pages: the live list with filters, a conversation with takeover, reply (HTMX + CSRF),
hand back and close, live polling fragments, escaped visitor text, roles and isolation."""

import re

import pytest

from tests.conftest import csrf_token_from
from tests.inbox.conftest import chat, events
from tests.knowledge.test_knowledge_api import GUIDE, create_kb, upload

HOSTILE = "<img src=x onerror=alert(1)> <script>alert('x')</script>"
HTMX = {"HX-Request": "true"}


def page(client, path, **kwargs):
    response = client.get(path, **kwargs)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def token(client, conversation_id=None) -> str:
    return csrf_token_from(page(client, f"/inbox/{conversation_id}" if conversation_id else "/inbox"))


def test_list_page_has_filters_polls_with_them_and_marks_escalations(client, creator, page_login, make_conversation):
    calm = make_conversation(creator, "web", "v-calm", "Just saying hi", display_name="Calm Carla")
    escalated = chat(client, creator, "Something the course never covers")["conversation_id"]
    page_login(client, creator.email)
    html = page(client, "/inbox")
    assert 'name="status"' in html and 'name="channel"' in html and 'name="assignee"' in html and 'name="q"' in html
    assert 'hx-get="/inbox/list?page=1"' in html and 'hx-trigger="every 2s"' in html
    assert "Calm Carla" in html and "Just saying hi" in html
    assert re.search(rf'class="inbox-row is-escalated"[^>]*id="conversation-{escalated}"', html)
    assert re.search(rf'class="inbox-row"[^>]*id="conversation-{calm}"', html)
    assert "low confidence" in html
    fragment = page(client, "/inbox/list?status=waiting_for_human&channel=api")
    assert fragment.startswith("{# ") is False and fragment.lstrip().startswith('<div id="inbox-list"')
    assert escalated in fragment and calm not in fragment
    # The polled fragment keeps the filters it was rendered with.
    polled = re.search(r'hx-get="([^"]+)" hx-trigger="every 2s"', fragment).group(1)
    assert "status=waiting_for_human" in polled and "channel=api" in polled


def test_filter_form_swaps_only_the_list_and_search_works(client, creator, page_login, make_conversation):
    make_conversation(creator, "web", "v-1", "Where do I buy the shoes?")
    make_conversation(creator, "sms", "+15550003333", "Training tomorrow?")
    page_login(client, creator.email)
    fragment = page(client, "/inbox?q=shoes", headers=HTMX)
    assert "<html" not in fragment and 'id="inbox-list"' in fragment
    assert "Where do I buy the shoes?" in fragment and "Training tomorrow?" not in fragment
    assert "Training tomorrow?" in page(client, "/inbox?channel=sms&assignee=unassigned")
    # A stale or mistyped filter is ignored rather than failing the page.
    assert "Where do I buy the shoes?" in page(client, "/inbox?status=bogus&assignee=nobody")
    assert "No conversation matches these filters." in page(client, "/inbox?q=nothing-like-it")


@pytest.fixture
def coach(client, creator, run_jobs):
    kb = create_kb(client, creator)
    upload(client, creator, kb["id"], "guide.md", GUIDE.encode())
    run_jobs()
    return creator


def test_detail_page_shows_history_sources_profile_and_memories(client, coach, page_login):
    conversation_id = chat(client, coach, "My name is Sam. How many rest days should I take each week?")[
        "conversation_id"
    ]
    page_login(client, coach.email)
    html = page(client, f"/inbox/{conversation_id}")
    assert 'class="msg msg-user"' in html and 'class="msg msg-ai"' in html
    assert "badge mode mode-extractive" in html and "two full rest days" in html
    assert 'class="msg-sources"' in html and "guide — Marathon training guide &gt; Rest and recovery" in html
    assert "visitor-1" in html and "Memories" in html and "Sam" in html
    assert "Take over" in html and 'id="reply-form"' in html and "Close conversation" in html
    assert f'hx-get="/inbox/{conversation_id}/live?v=' in html


def test_live_fragment_is_204_until_something_changes(client, creator, page_login):
    conversation_id = chat(client, creator, "First question")["conversation_id"]
    page_login(client, creator.email)
    html = page(client, f"/inbox/{conversation_id}")
    live_url = re.search(r'hx-get="([^"]+/live\?v=[^"]+)"', html).group(1).replace("&amp;", "&")
    assert client.get(live_url, headers=HTMX).status_code == 204
    chat(client, creator, "A new visitor message")
    fragment = page(client, live_url, headers=HTMX)
    assert fragment.lstrip().startswith('<div id="conversation-live"') and "A new visitor message" in fragment
    newer = re.search(r'hx-get="([^"]+/live\?v=[^"]+)"', fragment).group(1).replace("&amp;", "&")
    assert newer != live_url and client.get(newer, headers=HTMX).status_code == 204


def test_reply_from_the_page_needs_csrf_appends_the_message_and_reaches_the_widget(client, creator, page_login, listen):
    conversation_id = chat(client, creator, "Is a human around?")["conversation_id"]
    page_login(client, creator.email)
    csrf = token(client, conversation_id)
    refused = client.post(f"/inbox/{conversation_id}/reply", data={"message": "no token"}, headers=HTMX)
    assert refused.status_code == 400
    widget = listen(conversation_id)
    response = client.post(
        f"/inbox/{conversation_id}/reply",
        data={"message": "Hi, Alice here. How can I help?"},
        headers=HTMX | {"X-CSRFToken": csrf},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<li class="msg msg-agent"') and "Hi, Alice here. How can I help?" in html
    assert "Alice Coach" in html
    assert 'id="reply-form"' in html and 'hx-swap-oob="true"' in html and "How can I help?</textarea>" not in html
    assert [e["type"] for e in events(widget, expect=2)] == ["handover_initiated", "message"]
    detail = page(client, f"/inbox/{conversation_id}")
    assert "Alice Coach joined the conversation" in detail and "You have this conversation" in detail
    assert re.search(r'class="msg msg-agent"[^>]*>\s*<div class="msg-meta">\s*<strong>Alice Coach</strong>', detail)
    assert chat(client, creator, "Thanks!")["response"] is None


def test_an_empty_reply_keeps_the_form_with_its_error(client, creator, page_login):
    conversation_id = chat(client, creator, "Hello")["conversation_id"]
    page_login(client, creator.email)
    csrf = token(client, conversation_id)
    response = client.post(
        f"/inbox/{conversation_id}/reply", data={"message": "  "}, headers=HTMX | {"X-CSRFToken": csrf}
    )
    assert response.headers["HX-Retarget"] == "#reply-form" and response.headers["HX-Reswap"] == "outerHTML"
    assert "Write a message." in response.get_data(as_text=True)
    assert "joined the conversation" not in page(client, f"/inbox/{conversation_id}")


def test_take_over_hand_back_and_close_buttons(client, creator, page_login, listen):
    conversation_id = chat(client, creator, "Please call me")["conversation_id"]
    page_login(client, creator.email)
    csrf = token(client, conversation_id)
    widget = listen(conversation_id)
    taken = client.post(f"/inbox/{conversation_id}/take-over", data={"csrf_token": csrf}, follow_redirects=True)
    html = taken.get_data(as_text=True)
    assert "the assistant is paused" in html and "Hand back to AI" in html and 'data-status="with_agent"' in html
    back = client.post(f"/inbox/{conversation_id}/hand-back", data={"csrf_token": csrf}, follow_redirects=True)
    assert "The assistant answers this conversation again." in back.get_data(as_text=True)
    closed = client.post(
        f"/inbox/{conversation_id}/close",
        data={"csrf_token": csrf, "reason": "no_response", "summary": "Asked for a call; no number given."},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Conversation closed." in closed and 'data-status="closed"' in closed
    assert "Asked for a call; no number given." in closed and "Closed (no response)" in closed
    assert [e["type"] for e in events(widget, expect=3)] == ["handover_initiated", "status", "status"]
    again = client.post(f"/inbox/{conversation_id}/take-over", data={"csrf_token": csrf}, follow_redirects=True)
    assert "This conversation is closed." in again.get_data(as_text=True)


def test_visitor_html_is_shown_as_text(client, creator, page_login, make_conversation, name_user):
    conversation_id = chat(client, creator, f"Hi {HOSTILE}")["conversation_id"]
    name_user(conversation_id, f"Eve {HOSTILE}")
    page_login(client, creator.email)
    for html in (page(client, f"/inbox/{conversation_id}"), page(client, "/inbox")):
        assert "<img src=x" not in html and "<script>alert" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_agents_use_the_inbox_pages(client, creator, make_member, page_login):
    agent = make_member(creator, "agent")
    conversation_id = chat(client, creator, "Hello agent")["conversation_id"]
    page_login(client, agent.email)
    assert conversation_id in page(client, "/inbox")
    csrf = token(client, conversation_id)
    response = client.post(
        f"/inbox/{conversation_id}/reply", data={"message": "Agent here"}, headers=HTMX | {"X-CSRFToken": csrf}
    )
    assert "Agent here" in response.get_data(as_text=True) and "Team agent" in response.get_data(as_text=True)
    assert "Team agent" in page(client, "/inbox?assignee=me")


def test_another_creators_conversation_pages_are_404(client, two_creators, page_login):
    alice, bob = two_creators
    bobs = chat(client, bob, "Bob's visitor says PELICAN")["conversation_id"]
    page_login(client, alice.email)
    csrf = token(client)
    for path in ("", "/live"):
        assert client.get(f"/inbox/{bobs}{path}").status_code == 404
    for path in ("/reply", "/take-over", "/hand-back", "/close"):
        response = client.post(
            f"/inbox/{bobs}{path}", data={"csrf_token": csrf, "message": "x", "reason": "resolved"}, headers=HTMX
        )
        assert response.status_code == 404, path
    assert bobs not in page(client, "/inbox") and "PELICAN" not in page(client, "/inbox")
    assert "No conversation matches these filters." in page(client, "/inbox/list?q=PELICAN")
    untouched = client.get(f"/api/v1/conversations/{bobs}", headers=bob.headers).json
    assert untouched["status"] == "waiting_for_human" and untouched["message_count"] == 2


def test_the_inbox_needs_a_login(client):
    assert "/login" in client.get("/inbox").headers["Location"]
    assert "/login" in client.get("/inbox/list").headers["Location"]


def test_memories_are_added_corrected_and_forgotten_from_the_conversation(client, creator, page_login):
    body = chat(client, creator, "My name is Sam and I live in Lisbon.", user="sam")
    page_login(client, creator.email)
    page = client.get(f"/inbox/{body['conversation_id']}").get_data(as_text=True)
    token = csrf_token_from(page)
    assert "Lisbon" in page and "Add or correct a memory" in page
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    url = f"/inbox/{body['conversation_id']}/memories"
    card = client.post(url, headers=headers, data={"key": "Injury", "value": "left <b>knee</b>", "kind": "fact"})
    html = card.get_data(as_text=True)
    assert card.status_code == 200 and "left &lt;b&gt;knee&lt;/b&gt;" in html and 'id="memories"' in html
    bad = client.post(url, headers=headers, data={"key": "", "value": "x", "kind": "fact"}).get_data(as_text=True)
    assert "This field is required." in bad and '<details class="more" open>' in bad
    client.post(url, headers=headers, data={"key": "location", "value": "Porto", "kind": "fact"})
    memories = client.get(f"/api/v1/users/{body['end_user_id']}/memories", headers=creator.headers).json["memories"]
    assert {m["key"]: (m["value"], m["source"]) for m in memories} == {
        "injury": ("left <b>knee</b>", "creator"),
        "location": ("Porto", "creator"),  # corrected, not duplicated
        "name": ("Sam", "conversation"),
    }
    injury = next(m for m in memories if m["key"] == "injury")
    card = client.post(f"{url}/{injury['id']}/delete", headers=headers).get_data(as_text=True)
    assert f"memory-{injury['id']}" not in card and "Porto" in card
    assert chat(client, creator, "What do you know about me?", user="sam")["response"]["text"].count("Porto") == 1


def test_another_creators_memories_cannot_be_touched_from_the_page(client, two_creators, page_login):
    alice, bob = two_creators
    body = chat(client, alice, "My name is Sam.", user="sam")
    memory = client.get(f"/api/v1/users/{body['end_user_id']}/memories", headers=alice.headers).json["memories"][0]
    page_login(client, bob.email)
    token = csrf_token_from(client.get("/inbox").get_data(as_text=True))
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    url = f"/inbox/{body['conversation_id']}/memories"
    assert client.post(url, headers=headers, data={"key": "x", "value": "y", "kind": "fact"}).status_code == 404
    assert client.post(f"{url}/{memory['id']}/delete", headers=headers).status_code == 404
    assert len(client.get(f"/api/v1/users/{body['end_user_id']}/memories", headers=alice.headers).json["memories"]) == 1
