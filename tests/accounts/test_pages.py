"""Settings pages and navigation, as owners and agents see them."""

import re

import pytest

from app.dashboard.navigation import SECTIONS
from tests.conftest import csrf_token_from


def test_owner_sees_every_domain_in_the_navigation(client, creator, page_login):
    page_login(client, creator.email)
    html = client.get("/").get_data(as_text=True)
    for section in SECTIONS:
        assert f'data-nav="{section.key}"' in html


def test_every_navigation_page_loads(client, creator, page_login):
    page_login(client, creator.email)
    html = client.get("/").get_data(as_text=True)
    hrefs = re.findall(r'href="(/[^"]*)" data-nav=', html)
    assert len(hrefs) == len(SECTIONS)
    for href in hrefs:
        assert client.get(href).status_code == 200, href


def test_unbuilt_sections_say_so_plainly_and_built_ones_never_do(client, creator, page_login):
    page_login(client, creator.email)
    for section in SECTIONS:
        html = client.get(_href(client, section.key), follow_redirects=True).get_data(as_text=True)
        placeholder = "This area is being built" in html
        assert placeholder == bool(section.coming), section.key
    assert "nothing here is made up" in client.get(_href(client, "campaigns")).get_data(as_text=True)


def _href(client, key: str) -> str:
    html = client.get("/").get_data(as_text=True)
    return re.search(rf'href="(/[^"]*)" data-nav="{key}"', html).group(1)


def test_agent_sees_inbox_and_audience_but_not_settings(client, creator, make_member, page_login):
    agent = make_member(creator, "agent")
    page_login(client, agent.email)
    html = client.get("/").get_data(as_text=True)
    assert 'data-nav="inbox"' in html and 'data-nav="audience"' in html
    assert 'data-nav="api_keys"' not in html and 'data-nav="knowledge"' not in html
    for path in ("/settings/api-keys", "/settings/assistant", "/settings/team", "/settings/profile", "/knowledge/"):
        assert client.get(path).status_code == 403, path
    assert client.get("/inbox").status_code == 200
    assert client.get("/settings/password").status_code == 200


def test_persona_page_saves_settings(client, creator, page_login):
    page_login(client, creator.email)
    token = csrf_token_from(client.get("/settings/assistant").get_data(as_text=True))
    response = client.post(
        "/settings/assistant",
        data={
            "csrf_token": token,
            "assistant_name": "Coach Ana",
            "tone": "direct",
            "language": "en",
            "custom_prompt": "Be brief.",
            "prohibited_topics": "medical advice\n\nlegal advice\n",
            "fallback_message": "A human will reply soon.",
            "model": "llama3.2",
            "confidence_threshold": "0.4",
            "max_response_tokens": "300",
        },
    )
    assert response.status_code == 302
    config = client.get("/api/v1/creators/ai-config", headers=creator.headers).json
    assert config["assistant_name"] == "Coach Ana" and config["prohibited_topics"] == ["medical advice", "legal advice"]


def test_persona_page_rejects_bad_values(client, creator, page_login):
    page_login(client, creator.email)
    token = csrf_token_from(client.get("/settings/assistant").get_data(as_text=True))
    response = client.post(
        "/settings/assistant",
        data={
            "csrf_token": token,
            "assistant_name": "",
            "tone": "sarcastic",
            "language": "English",
            "fallback_message": "x",
            "model": "m",
            "confidence_threshold": "5",
            "max_response_tokens": "300",
        },
    )
    assert response.status_code == 200
    assert client.get("/api/v1/creators/ai-config", headers=creator.headers).json["assistant_name"] == "Coach"


def test_team_page_adds_agent_with_invite_link(client, creator, page_login):
    page_login(client, creator.email)
    token = csrf_token_from(client.get("/settings/team").get_data(as_text=True))
    html = client.post(
        "/settings/team",
        data={"csrf_token": token, "full_name": "Ian", "email": "ian@example.com", "role": "agent", "password": ""},
    ).get_data(as_text=True)
    assert "invite-link" in html and "/reset-password/" in html


@pytest.mark.parametrize("path", ["/settings/team", "/settings/api-keys"])
def test_settings_pages_show_only_own_creator(client, two_creators, make_member, page_login, path):
    alice, bob = two_creators
    make_member(bob, "agent")
    client.post("/api/v1/api-keys", headers=bob.headers, json={"name": "Bob's backend key"})
    page_login(client, alice.email)
    html = client.get(path).get_data(as_text=True)
    assert bob.email not in html and "Bob's backend key" not in html
