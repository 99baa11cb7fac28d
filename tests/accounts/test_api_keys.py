"""API keys: shown once, stored hashed, listed without secrets, revocable, tenant-scoped."""

import hashlib
import uuid

from sqlalchemy import select

from app.extensions import db
from app.models import ApiKey


def create_key(client, account, **body):
    return client.post("/api/v1/api-keys", headers=account.headers, json={"name": "Backend"} | body)


def test_created_key_is_shown_once_and_works(app, client, creator):
    created = create_key(client, creator)
    assert created.status_code == 201
    secret = created.json["key"]
    assert secret.startswith("chk_") and created.json["prefix"] == secret[:12]
    me = client.get("/api/v1/auth/me", headers={"X-API-Key": secret})
    assert me.status_code == 200 and me.json["auth_method"] == "api_key"
    assert me.json["creator"]["id"] == creator.creator_id
    listed = client.get("/api/v1/api-keys", headers=creator.headers).json["api_keys"]
    assert listed[0]["last_used_at"] is not None
    assert all("key" not in item and secret not in str(item) for item in listed)


def test_only_a_hash_of_the_key_is_stored(app, client, creator):
    secret = create_key(client, creator).json["key"]
    with app.app_context():
        row = db.session.scalar(select(ApiKey))
        assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in {str(value) for value in row.__dict__.values()}


def test_revoked_key_stops_working(client, creator):
    created = create_key(client, creator).json
    revoked = client.delete(f"/api/v1/api-keys/{created['id']}", headers=creator.headers)
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    response = client.get("/api/v1/auth/me", headers={"X-API-Key": created["key"]})
    assert response.status_code == 401


def test_unknown_key_is_401(client):
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": "chk_nope"}).status_code == 401


def test_agent_key_has_agent_rights_only(client, creator):
    secret = create_key(client, creator, role="agent").json["key"]
    assert client.get("/api/v1/creators/ai-config", headers={"X-API-Key": secret}).status_code == 403


def test_another_creators_key_is_not_found(client, two_creators):
    alice, bob = two_creators
    bobs_key = create_key(client, bob).json
    assert client.delete(f"/api/v1/api-keys/{bobs_key['id']}", headers=alice.headers).status_code == 404
    assert client.delete(f"/api/v1/api-keys/{uuid.uuid4()}", headers=alice.headers).status_code == 404
    assert client.get("/api/v1/api-keys", headers=alice.headers).json["pagination"]["total"] == 0
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": bobs_key["key"]}).json["creator"]["id"] == bob.creator_id
