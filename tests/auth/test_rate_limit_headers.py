"""X-RateLimit-* on every answer of a limited route; Retry-After only when the client must wait."""

from tests.conftest import PASSWORD, csrf_token_from


def test_successful_answers_carry_no_retry_after(client, creator):
    response = client.get("/api/v1/auth/me", headers=creator.headers)
    assert response.status_code == 200
    assert "X-RateLimit-Limit" in response.headers and "X-RateLimit-Remaining" in response.headers
    assert "X-RateLimit-Reset" in response.headers
    assert "Retry-After" not in response.headers
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    page = client.post("/login", data={"email": creator.email, "password": PASSWORD, "csrf_token": token})
    assert page.status_code == 302 and "Retry-After" not in page.headers


def test_refusals_for_too_many_requests_carry_retry_after(client, creator):
    body = {"email": creator.email, "password": "bad-guess-123"}
    for _ in range(5):
        answer = client.post("/api/v1/auth/login", json=body)
        assert answer.status_code == 401 and "Retry-After" not in answer.headers
    refused = client.post("/api/v1/auth/login", json=body)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "X-RateLimit-Limit" in refused.headers
