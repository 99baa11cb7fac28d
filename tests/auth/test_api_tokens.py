"""Register, login, me, refresh rotation, logout and revocation through the API."""

import time
import uuid

import jwt
import pytest

from tests.conftest import PASSWORD


def register(client, **overrides):
    body = {"email": "new@example.com", "password": "a-good-pass-9", "full_name": "New Coach"} | overrides
    return client.post("/api/v1/auth/register", json=body)


def test_register_creates_creator_and_owner_with_tokens(client):
    response = register(client, company_name="Run Club")
    assert response.status_code == 201
    body = response.json
    assert body["user"]["role"] == "owner" and body["creator"]["company_name"] == "Run Club"
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json["user"]["email"] == "new@example.com"


def test_register_refuses_smuggled_creator_id_and_role(client, creator):
    response = register(client, creator_id=creator.creator_id, role="agent", subscription_tier="enterprise")
    assert response.status_code == 422
    assert {d["field"] for d in response.json["error"]["details"]} == {"creator_id", "role", "subscription_tier"}
    response = register(client)
    assert response.status_code == 201
    assert response.json["creator"]["id"] != creator.creator_id
    assert response.json["user"]["role"] == "owner"
    assert response.json["creator"]["subscription_tier"] == "free"


def test_register_rejects_duplicate_email_and_weak_password(client, creator):
    duplicate = register(client, email=creator.email.upper())
    assert duplicate.status_code == 409 and duplicate.json["error"]["code"] == "CONFLICT"
    weak = register(client, email="weak@example.com", password="short")
    assert weak.status_code == 422
    assert weak.json["error"]["details"][0]["field"] == "password"


def test_access_token_carries_the_source_claims(client, creator):
    claims = jwt.decode(creator.access_token, options={"verify_signature": False})
    assert claims["sub"] == creator.member_id and claims["creator_id"] == creator.creator_id
    assert claims["tenant_id"] == creator.creator_id
    assert claims["aud"] == "coaching-platform" and claims["iss"] == "auth-service"
    assert set(claims["permissions"]) >= {"read", "write", "admin"}
    assert claims["exp"] - claims["iat"] == 15 * 60


def test_login_with_wrong_password_is_401_without_saying_which_part(client, creator):
    wrong = client.post("/api/v1/auth/login", json={"email": creator.email, "password": "nope-nope-1"})
    unknown = client.post("/api/v1/auth/login", json={"email": "ghost@example.com", "password": "nope-nope-1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["error"]["message"] == unknown.json["error"]["message"]


def test_refresh_rotates_and_old_token_is_single_use(client, creator):
    first = client.post("/api/v1/auth/refresh", json={"refresh_token": creator.refresh_token})
    assert first.status_code == 200
    assert first.json["refresh_token"] != creator.refresh_token
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {first.json['access_token']}"}).status_code
        == 200
    )


def test_reused_refresh_token_revokes_the_whole_family(client, creator):
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": creator.refresh_token}).json
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": creator.refresh_token})
    assert reuse.status_code == 401
    # Every token of the family is now dead: the new refresh token and both access tokens.
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}).status_code == 401
    for access in (rotated["access_token"], creator.access_token):
        assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {access}"}).status_code == 401


def test_reuse_does_not_touch_other_sessions(client, creator):
    other = client.post("/api/v1/auth/login", json={"email": creator.email, "password": PASSWORD}).json
    client.post("/api/v1/auth/refresh", json={"refresh_token": creator.refresh_token})
    client.post("/api/v1/auth/refresh", json={"refresh_token": creator.refresh_token})
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {other['access_token']}"}).status_code == 200
    )


def test_logout_ends_access_and_refresh_tokens(client, creator):
    assert client.post("/api/v1/auth/logout", headers=creator.headers).status_code == 200
    assert client.get("/api/v1/auth/me", headers=creator.headers).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": creator.refresh_token}).status_code == 401


def test_revoke_a_refresh_token(client, creator):
    other = client.post("/api/v1/auth/login", json={"email": creator.email, "password": PASSWORD}).json
    response = client.post(
        "/api/v1/auth/tokens/revoke", headers=creator.headers, json={"token": other["refresh_token"]}
    )
    assert response.status_code == 200 and response.json["revoked"] is True
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {other['access_token']}"}).status_code == 401
    )
    assert client.get("/api/v1/auth/me", headers=creator.headers).status_code == 200


def test_cannot_revoke_another_creators_token(client, two_creators):
    alice, bob = two_creators
    response = client.post("/api/v1/auth/tokens/revoke", headers=alice.headers, json={"token": bob.refresh_token})
    assert response.json["revoked"] is False
    assert client.get("/api/v1/auth/me", headers=bob.headers).status_code == 200


def _forge(app, claims_overrides=None, key=None, algorithm="HS256", creator=None):
    base = jwt.decode(creator.access_token, options={"verify_signature": False})
    claims = base | (claims_overrides or {})
    if algorithm == "none":
        return jwt.encode(claims, None, algorithm="none")
    return jwt.encode(claims, key or app.config["SECRET_KEY"], algorithm=algorithm)


@pytest.mark.parametrize(
    "case", ["alg_none", "wrong_signature", "expired", "wrong_audience", "wrong_issuer", "garbage"]
)
def test_bad_jwts_are_refused(app, client, creator, case):
    now = int(time.time())
    token = {
        "alg_none": lambda: _forge(app, algorithm="none", creator=creator),
        "wrong_signature": lambda: _forge(app, key="another-secret-key-of-enough-length", creator=creator),
        "expired": lambda: _forge(app, {"iat": now - 3600, "exp": now - 60}, creator=creator),
        "wrong_audience": lambda: _forge(app, {"aud": "someone-else"}, creator=creator),
        "wrong_issuer": lambda: _forge(app, {"iss": "evil"}, creator=creator),
        "garbage": lambda: "not.a.jwt",
    }[case]()
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "AUTHENTICATION_REQUIRED"


def test_token_for_a_forged_creator_id_is_refused(app, client, two_creators):
    alice, bob = two_creators
    # Signed correctly but naming Bob's creator with Alice's session: the session decides.
    token = _forge(app, {"creator_id": bob.creator_id, "sub": str(uuid.uuid4())}, creator=alice)
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_missing_and_malformed_authorization(client):
    assert client.get("/api/v1/auth/me").json["error"]["code"] == "AUTHENTICATION_REQUIRED"
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"}).status_code == 401
