"""Password change and reset through the API; both end other sessions."""

import logging
import re

from tests.conftest import PASSWORD

NEW_PASSWORD = "brand-new-secret-7"


def _reset_link(caplog) -> str:
    bodies = [getattr(r, "body", "") for r in caplog.records if getattr(r, "subject", "").startswith("Reset")]
    assert bodies, "no reset e-mail was delivered"
    return re.search(r"https?://\S+/reset-password/(\S+)", bodies[-1]).group(1)


def test_password_change_ends_other_sessions_but_not_this_one(client, creator):
    other = client.post("/api/v1/auth/login", json={"email": creator.email, "password": PASSWORD}).json
    response = client.post(
        "/api/v1/auth/password/change",
        headers=creator.headers,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert client.get("/api/v1/auth/me", headers=creator.headers).status_code == 200
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {other['access_token']}"}).status_code == 401
    )
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 401
    assert client.post("/api/v1/auth/login", json={"email": creator.email, "password": NEW_PASSWORD}).status_code == 200


def test_password_change_needs_the_current_password(client, creator):
    response = client.post(
        "/api/v1/auth/password/change",
        headers=creator.headers,
        json={"current_password": "wrong-one-1", "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["field"] == "current_password"


def test_reset_flow_by_email_job(client, creator, run_jobs, caplog):
    caplog.set_level(logging.INFO)
    response = client.post("/api/v1/auth/password/reset/request", json={"email": creator.email})
    assert response.status_code == 202
    assert run_jobs() == 1  # the e-mail goes out through an RQ job
    token = _reset_link(caplog)
    confirm = client.post("/api/v1/auth/password/reset/confirm", json={"token": token, "new_password": NEW_PASSWORD})
    assert confirm.status_code == 200
    # Old sessions end, the new password works, and the link cannot be used twice.
    assert client.get("/api/v1/auth/me", headers=creator.headers).status_code == 401
    assert client.post("/api/v1/auth/login", json={"email": creator.email, "password": NEW_PASSWORD}).status_code == 200
    again = client.post(
        "/api/v1/auth/password/reset/confirm", json={"token": token, "new_password": "yet-another-pass-3"}
    )
    assert again.status_code == 422


def test_reset_request_for_unknown_email_looks_the_same(client, run_jobs):
    response = client.post("/api/v1/auth/password/reset/request", json={"email": "nobody@example.com"})
    assert response.status_code == 202
    assert run_jobs() == 0


def test_reset_confirm_with_forged_token(client):
    response = client.post(
        "/api/v1/auth/password/reset/confirm", json={"token": "forged", "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 422 and response.json["error"]["details"][0]["field"] == "token"


def test_password_validate_reports_problems(client):
    weak = client.post("/api/v1/auth/password/validate", json={"password": "12345678"}).json
    assert weak["valid"] is False and weak["problems"]
    assert client.post("/api/v1/auth/password/validate", json={"password": NEW_PASSWORD}).json == {
        "valid": True,
        "problems": [],
    }
