"""Team members and the owner/admin/agent roles, enforced on the API."""

import uuid

import pytest

from tests.conftest import PASSWORD

ADMIN_ONLY = [
    ("get", "/api/v1/creators/ai-config", None),
    ("put", "/api/v1/creators/ai-config", {"tone": "direct"}),
    ("put", "/api/v1/creators/profile", {"full_name": "Hijack"}),
    ("get", "/api/v1/api-keys", None),
    ("post", "/api/v1/api-keys", {"name": "agent key"}),
    ("get", "/api/v1/team/members", None),
    ("post", "/api/v1/team/members", {"email": "x@example.com", "full_name": "X", "role": "agent"}),
]


@pytest.mark.parametrize("method,path,body", ADMIN_ONLY)
def test_agent_is_refused_settings_endpoints(client, creator, make_member, method, path, body):
    agent = make_member(creator, "agent")
    response = getattr(client, method)(path, headers=agent.headers, json=body)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "INSUFFICIENT_PERMISSIONS"


def test_agent_can_use_its_own_account(client, creator, make_member):
    agent = make_member(creator, "agent")
    me = client.get("/api/v1/auth/me", headers=agent.headers).json
    assert me["role"] == "agent" and me["creator"]["id"] == creator.creator_id
    assert client.get("/api/v1/creators/profile", headers=agent.headers).status_code == 200


def test_owner_adds_agent_who_can_log_in(client, creator):
    response = client.post(
        "/api/v1/team/members",
        headers=creator.headers,
        json={"email": "Agent@Example.com", "full_name": "Ann Agent", "role": "agent", "password": "agent-pass-123"},
    )
    assert response.status_code == 201 and response.json["email"] == "agent@example.com"
    assert response.json["invite_url"] is None
    login = client.post("/api/v1/auth/login", json={"email": "agent@example.com", "password": "agent-pass-123"})
    assert login.status_code == 200 and login.json["user"]["role"] == "agent"


def test_member_without_password_gets_an_invite_link(client, creator):
    response = client.post(
        "/api/v1/team/members",
        headers=creator.headers,
        json={"email": "invitee@example.com", "full_name": "Ivy", "role": "agent"},
    )
    assert "/reset-password/" in response.json["invite_url"]
    token = response.json["invite_url"].rsplit("/", 1)[1]
    assert (
        client.post(
            "/api/v1/auth/password/reset/confirm", json={"token": token, "new_password": "ivy-chosen-pass-1"}
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": "invitee@example.com", "password": "ivy-chosen-pass-1"}
        ).status_code
        == 200
    )


def test_only_the_owner_manages_admins(client, creator, make_member):
    admin = make_member(creator, "admin")
    other_admin = make_member(creator, "admin")
    new_admin = {"email": "a2@example.com", "full_name": "A2", "role": "admin", "password": PASSWORD}
    assert client.post("/api/v1/team/members", headers=admin.headers, json=new_admin).status_code == 403
    assert (
        client.put(
            f"/api/v1/team/members/{other_admin.member_id}", headers=admin.headers, json={"role": "agent"}
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/team/members/{creator.member_id}", headers=admin.headers).status_code == 403
    assert client.post("/api/v1/team/members", headers=creator.headers, json=new_admin).status_code == 201


def test_admin_manages_agents(client, creator, make_member):
    admin = make_member(creator, "admin")
    agent = make_member(creator, "agent")
    assert (
        client.put(
            f"/api/v1/team/members/{agent.member_id}", headers=admin.headers, json={"full_name": "Renamed"}
        ).json["full_name"]
        == "Renamed"
    )
    assert client.delete(f"/api/v1/team/members/{agent.member_id}", headers=admin.headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=agent.headers).status_code == 401


def test_role_change_ends_the_members_sessions(client, creator, make_member):
    agent = make_member(creator, "agent")
    assert (
        client.put(
            f"/api/v1/team/members/{agent.member_id}", headers=creator.headers, json={"role": "admin"}
        ).status_code
        == 200
    )
    assert client.get("/api/v1/auth/me", headers=agent.headers).status_code == 401
    fresh = client.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD}).json
    assert fresh["user"]["role"] == "admin"


def test_disabled_member_cannot_log_in(client, creator, make_member):
    agent = make_member(creator, "agent")
    client.put(f"/api/v1/team/members/{agent.member_id}", headers=creator.headers, json={"is_active": False})
    assert client.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD}).status_code == 401


def test_nobody_becomes_owner_through_the_api(client, creator, make_member):
    agent = make_member(creator, "agent")
    response = client.put(f"/api/v1/team/members/{agent.member_id}", headers=creator.headers, json={"role": "owner"})
    assert response.status_code == 422


def test_team_lists_filter_by_role(client, creator, make_member):
    make_member(creator, "agent")
    make_member(creator, "admin")
    agents = client.get("/api/v1/team/members?role=agent", headers=creator.headers).json
    assert agents["pagination"]["total"] == 1 and agents["members"][0]["role"] == "agent"
    assert client.get("/api/v1/team/members", headers=creator.headers).json["pagination"]["total"] == 3


def test_another_creators_member_is_not_found(client, two_creators, make_member):
    alice, bob = two_creators
    bobs_agent = make_member(bob, "agent")
    for call in (client.get, client.delete):
        assert call(f"/api/v1/team/members/{bobs_agent.member_id}", headers=alice.headers).status_code == 404
    assert (
        client.put(
            f"/api/v1/team/members/{bobs_agent.member_id}", headers=alice.headers, json={"is_active": False}
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/team/members/{uuid.uuid4()}", headers=alice.headers).status_code == 404
    assert client.get("/api/v1/auth/me", headers=bobs_agent.headers).status_code == 200
    names = [m["email"] for m in client.get("/api/v1/team/members", headers=alice.headers).json["members"]]
    assert names == [alice.email]
