"""The API lets an agent do what the dashboard lets an agent do: inbox and users, not
settings, knowledge, programs or FAQ. With a token or with a key alike."""

import pytest

FAQ = {"question": "How many rest days?", "answer": "Two a week."}


@pytest.fixture
def content(client, creator):
    """One knowledge base, program and FAQ entry of the creator, made by the owner."""
    kb = client.post("/api/v1/knowledge-bases", headers=creator.headers, json={"name": "Course"}).json["id"]
    program = client.post("/api/v1/programs", headers=creator.headers, json={"name": "5k"}).json["id"]
    faq = client.post("/api/v1/faq", headers=creator.headers, json=FAQ).json["id"]
    return {"kb": kb, "program": program, "faq": faq, "creator_id": creator.creator_id}


REFUSED = [
    ("get", "/api/v1/knowledge-bases", None),
    ("get", "/api/v1/knowledge-bases/{kb}", None),
    ("get", "/api/v1/knowledge-bases/{kb}/documents", None),
    ("post", "/api/v1/knowledge-bases/{kb}/search", {"query": "rest"}),
    ("post", "/api/v1/knowledge/search", {"query": "rest"}),
    ("get", "/api/v1/programs", None),
    ("get", "/api/v1/programs/{program}", None),
    ("get", "/api/v1/programs/{program}/versions", None),
    ("get", "/api/v1/programs/{program}/enrollments", None),
    ("get", "/api/v1/programs/{program}/analytics", None),
    ("get", "/api/v1/badges", None),
    ("get", "/api/v1/faq", None),
    ("get", "/api/v1/faq/{faq}", None),
    ("get", "/api/v1/cache/stats", None),
    ("get", "/api/v1/creators/ai-config", None),
    ("get", "/api/v1/api-keys", None),
    ("get", "/api/v1/team/members", None),
    ("get", "/api/v1/channels", None),
    ("get", "/api/v1/ai/chromadb/stats", None),
    ("get", "/api/v1/ai/embeddings/stats/{creator_id}", None),
]


def agent_credentials(client, creator, make_member, kind) -> dict:
    agent = make_member(creator, "agent")
    if kind == "token":
        return agent.headers
    secret = client.post("/api/v1/api-keys", headers=creator.headers, json={"name": "Bot", "role": "agent"}).json
    return {"X-API-Key": secret["key"]}


@pytest.mark.parametrize("kind", ["token", "key"])
def test_agents_are_refused_what_the_dashboard_refuses_them(client, creator, make_member, content, kind):
    headers = agent_credentials(client, creator, make_member, kind)
    for method, path, body in REFUSED:
        response = getattr(client, method)(path.format(**content), headers=headers, json=body)
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json["error"]["code"] == "INSUFFICIENT_PERMISSIONS"


@pytest.mark.parametrize("kind", ["token", "key"])
def test_agents_keep_the_inbox_and_the_users(client, creator, make_member, kind):
    headers = agent_credentials(client, creator, make_member, kind)
    for path in ("/api/v1/conversations", "/api/v1/users", "/api/v1/auth/me"):
        assert client.get(path, headers=headers).status_code == 200, path


def test_admins_still_read_what_agents_cannot(client, creator, make_member, content):
    admin = make_member(creator, "admin")
    for method, path, _body in REFUSED:
        if method == "get":
            assert client.get(path.format(**content), headers=admin.headers).status_code == 200, path


def test_another_creators_content_is_404_not_403_for_its_admins(client, two_creators, make_member, content):
    _, bob = two_creators
    bobs_admin = make_member(bob, "admin")
    assert client.get(f"/api/v1/knowledge-bases/{content['kb']}", headers=bobs_admin.headers).status_code == 404
    assert client.get(f"/api/v1/programs/{content['program']}", headers=bobs_admin.headers).status_code == 404
