"""An API key acts with its member's current role and dies with the member."""

import uuid

from app.extensions import db
from app.models import ApiKey, Member


def key_of(client, account, role="admin") -> dict:
    created = client.post("/api/v1/api-keys", headers=account.headers, json={"name": "Backend", "role": role})
    assert created.status_code == 201
    return created.json


def as_key(secret: str) -> dict:
    return {"X-API-Key": secret}


def test_removed_members_key_stops_working_and_shows_revoked(client, creator, make_member):
    admin = make_member(creator, "admin")
    key = key_of(client, admin)
    assert client.get("/api/v1/auth/me", headers=as_key(key["key"])).status_code == 200
    assert client.delete(f"/api/v1/team/members/{admin.member_id}", headers=creator.headers).status_code == 204
    me = client.get("/api/v1/auth/me", headers=as_key(key["key"]))
    assert me.status_code == 401 and me.json["error"]["code"] == "AUTHENTICATION_REQUIRED"
    created = client.post("/api/v1/faq", headers=as_key(key["key"]), json={"question": "Q?", "answer": "A."})
    assert created.status_code == 401
    listed = client.get("/api/v1/api-keys", headers=creator.headers).json["api_keys"]
    assert [k["revoked_at"] is not None for k in listed if k["id"] == key["id"]] == [True]


def test_deactivated_members_key_stops_working(client, creator, make_member):
    admin = make_member(creator, "admin")
    key = key_of(client, admin)
    deactivated = client.put(
        f"/api/v1/team/members/{admin.member_id}", headers=creator.headers, json={"is_active": False}
    )
    assert deactivated.status_code == 200
    assert client.get("/api/v1/auth/me", headers=as_key(key["key"])).status_code == 401


def test_a_key_whose_member_is_gone_is_refused(app, client, creator, make_member):
    """Keys orphaned before removal revoked them (created_by_id set to NULL) answer 401, never admin."""
    admin = make_member(creator, "admin")
    key = key_of(client, admin)
    with app.app_context():
        db.session.delete(db.session.get(Member, uuid.UUID(admin.member_id)))
        db.session.commit()
        assert db.session.get(ApiKey, uuid.UUID(key["id"])).created_by_id is None
    me = client.get("/api/v1/auth/me", headers=as_key(key["key"]))
    assert me.status_code == 401 and "permissions" not in me.json


def test_demoted_admins_key_acts_as_an_agent(client, creator, make_member):
    admin = make_member(creator, "admin")
    key = key_of(client, admin)
    assert client.get("/api/v1/creators/ai-config", headers=as_key(key["key"])).status_code == 200
    client.put(f"/api/v1/team/members/{admin.member_id}", headers=creator.headers, json={"role": "agent"})
    me = client.get("/api/v1/auth/me", headers=as_key(key["key"])).json
    assert me["role"] == "agent" and me["permissions"] == ["read", "write"]
    assert client.get("/api/v1/creators/ai-config", headers=as_key(key["key"])).status_code == 403
    assert client.get("/api/v1/conversations", headers=as_key(key["key"])).status_code == 200


def test_an_agent_key_stays_agent_when_its_member_is_the_owner(client, creator):
    key = key_of(client, creator, role="agent")
    me = client.get("/api/v1/auth/me", headers=as_key(key["key"])).json
    assert me["role"] == "agent" and me["permissions"] == ["read", "write"]


def test_owners_admin_key_reports_admin_permissions(client, creator):
    key = key_of(client, creator)
    me = client.get("/api/v1/auth/me", headers=as_key(key["key"])).json
    assert me["role"] == "admin" and me["permissions"] == ["read", "write", "admin"]


def test_a_key_made_with_a_key_belongs_to_the_same_member(client, creator, make_member):
    admin = make_member(creator, "admin")
    first = key_of(client, admin)
    second = client.post("/api/v1/api-keys", headers=as_key(first["key"]), json={"name": "Child"}).json
    assert client.get("/api/v1/auth/me", headers=as_key(second["key"])).status_code == 200
    client.delete(f"/api/v1/team/members/{admin.member_id}", headers=creator.headers)
    assert client.get("/api/v1/auth/me", headers=as_key(second["key"])).status_code == 401
