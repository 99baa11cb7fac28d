"""API conventions that hold on every route: errors, request ids, limits, sizes, docs."""

import re

import pytest


def test_request_id_is_echoed_or_generated(client):
    given = client.get("/health", headers={"X-Request-ID": "trace-123"})
    assert given.headers["X-Request-ID"] == "trace-123"
    generated = client.get("/health").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f-]{36}", generated)
    # Anything but a short token (spaces, quotes, 1 KB of junk) is replaced, not echoed.
    for bad in ("bad id", '"><script>', "x" * 1000):
        assert client.get("/health", headers={"X-Request-ID": bad}).headers["X-Request-ID"] != bad


def test_error_envelope_carries_the_request_id(client):
    response = client.get("/api/v1/nothing-here", headers={"X-Request-ID": "abc-1"})
    assert response.status_code == 404 and response.is_json
    error = response.json["error"]
    assert error["code"] == "RESOURCE_NOT_FOUND" and error["request_id"] == "abc-1"
    assert error["timestamp"].endswith("Z") and "message" in error and "details" in error


def test_405_is_json_with_allow_header(client):
    response = client.delete("/api/v1/auth/me")
    assert response.status_code == 405 and response.json["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["Allow"]


def test_500_is_json_without_traceback(make_app):
    broken = make_app(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @broken.route("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = broken.test_client().get("/api/v1/boom")
    assert response.status_code == 500 and response.json["error"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_malformed_json_is_400_envelope(client, creator):
    response = client.put(
        "/api/v1/creators/profile", headers=creator.headers | {"Content-Type": "application/json"}, data="{not json"
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "BAD_REQUEST"


def test_oversized_json_body_is_413_and_nothing_changes(client, creator):
    huge = {"full_name": "x" * (1024 * 1024 + 10)}
    response = client.put("/api/v1/creators/profile", headers=creator.headers, json=huge)
    assert response.status_code == 413 and response.json["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert client.get("/api/v1/creators/profile", headers=creator.headers).json["full_name"] == "Alice Coach"


def test_validation_errors_name_each_field(client, creator):
    response = client.put(
        "/api/v1/creators/ai-config",
        headers=creator.headers,
        json={"tone": "sarcastic", "confidence_threshold": 3, "language": "english"},
    )
    assert response.status_code == 422
    fields = {d["field"] for d in response.json["error"]["details"]}
    assert fields == {"tone", "confidence_threshold", "language"}


def test_list_pagination_shape_and_bounds(client, creator):
    for i in range(3):
        client.post("/api/v1/api-keys", headers=creator.headers, json={"name": f"k{i}"})
    page = client.get("/api/v1/api-keys?page=2&limit=2", headers=creator.headers).json
    assert page["pagination"] == {"page": 2, "limit": 2, "total": 3, "pages": 2}
    assert len(page["api_keys"]) == 1
    assert client.get("/api/v1/api-keys?limit=101", headers=creator.headers).status_code == 422
    assert client.get("/api/v1/api-keys?page=0", headers=creator.headers).status_code == 422


def test_rate_limit_per_creator_with_headers_and_retry_after(app, client, two_creators):
    alice, bob = two_creators
    app.config["RATELIMIT_API_GENERAL"] = "3 per hour"
    try:
        responses = [
            client.get("/api/v1/creators/profile", headers=alice.headers | {"X-Request-ID": f"rid-{i}"})
            for i in range(4)
        ]
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        assert responses[0].headers["X-RateLimit-Limit"] == "3"
        assert responses[0].headers["X-RateLimit-Remaining"] == "2"
        assert int(responses[0].headers["X-RateLimit-Reset"]) > 0
        limited = responses[-1]
        assert limited.json["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        # The limiter refuses before the view: the refusal still carries the caller's request id.
        assert limited.headers["X-Request-ID"] == "rid-3" and limited.json["error"]["request_id"] == "rid-3"
        assert int(limited.headers["Retry-After"]) > 0
        # The limit is per creator: Bob is unaffected.
        assert client.get("/api/v1/creators/profile", headers=bob.headers).status_code == 200
    finally:
        app.config["RATELIMIT_API_GENERAL"] = "10000 per hour"


def test_login_brute_force_is_limited_per_account(app, client, creator):
    for _ in range(5):
        assert (
            client.post("/api/v1/auth/login", json={"email": creator.email, "password": "wrong-guess-1"}).status_code
            == 401
        )
    blocked = client.post("/api/v1/auth/login", json={"email": creator.email, "password": "wrong-guess-1"})
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    # Even the right password waits now; another account is unaffected.
    assert (
        client.post("/api/v1/auth/login", json={"email": creator.email, "password": "correct-horse-42"}).status_code
        == 429
    )


def test_successful_logins_do_not_count_against_the_account(client, creator):
    for _ in range(7):
        assert (
            client.post("/api/v1/auth/login", json={"email": creator.email, "password": "correct-horse-42"}).status_code
            == 200
        )


def test_login_brute_force_is_limited_per_ip(client):
    codes = [
        client.post("/api/v1/auth/login", json={"email": f"u{i}@example.com", "password": "wrong-guess-1"}).status_code
        for i in range(11)
    ]
    assert codes[:10] == [401] * 10 and codes[10] == 429


def test_openapi_documents_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} is missing from openapi.json"
    assert {"bearerAuth", "apiKeyAuth"} <= set(spec["components"]["securitySchemes"])


def test_api_reference_page_uses_only_vendored_assets(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert "swagger-ui-bundle.js" in html and "/api/v1/openapi.json" in html
    assert not re.search(r'(src|href)="https?://', html)
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_health_and_ready_report_each_dependency(client, backend):
    assert client.get("/health").json["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200
    checks = ready.json["checks"]
    assert set(checks) == {"database", "redis", "chroma", "ollama"}
    assert checks["database"]["status"] == "ok" and checks["database"]["backend"] == backend
    assert checks["redis"]["status"] == "ok" and checks["chroma"]["status"] == "ok"
    assert checks["ollama"]["status"] in ("not_configured", "ok", "error")


@pytest.mark.parametrize("path", ["/", "/settings/profile", "/inbox"])
def test_pages_redirect_to_login_but_api_answers_401_json(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/api/v1/creators/profile").status_code == 401


def test_a_row_deleted_by_another_request_meanwhile_is_a_404_not_a_500(make_app, creator):
    """Two requests race: one deletes what the other is changing. The loser's UPDATE matches no
    row (StaleDataError) or its refresh finds none (ObjectDeletedError): the thing is gone, a 404."""
    from sqlalchemy import delete, select

    from app.extensions import db
    from app.models import KnowledgeBase

    racing = make_app(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @racing.route("/api/v1/racing/<how>")  # a GET: the test route has no CSRF exemption
    def rename_while_deleted(how):
        kb = db.session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == "Course"))
        with db.engine.begin() as other_request:
            other_request.execute(delete(KnowledgeBase).where(KnowledgeBase.id == kb.id))
        if how == "update":
            kb.name = "Renamed"
            db.session.commit()
        else:
            db.session.expire(kb)
            return {"name": kb.name}
        return {}

    client = racing.test_client()
    for how in ("update", "refresh"):
        created = client.post("/api/v1/knowledge-bases", headers=creator.headers, json={"name": "Course"})
        assert created.status_code == 201
        response = client.get(f"/api/v1/racing/{how}")
        assert response.status_code == 404, (how, response.get_data(as_text=True))
        assert response.json["error"]["code"] == "RESOURCE_NOT_FOUND"


def test_a_duplicate_created_by_another_request_meanwhile_is_a_409_not_a_500(make_app, creator):
    """Both requests pass the "name free?" check, the unique index lets one in: the other is a 409."""
    import uuid as uuid_module

    from app.extensions import db
    from app.models import KnowledgeBase

    racing = make_app(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @racing.route("/api/v1/racing-create")
    def create_after_the_check():
        kb = KnowledgeBase(creator_id=uuid_module.UUID(creator.creator_id), name="Course", embedding_model="x")
        db.session.add(kb)
        db.session.commit()
        return {}

    client = racing.test_client()
    assert client.post("/api/v1/knowledge-bases", headers=creator.headers, json={"name": "Course"}).status_code == 201
    response = client.get("/api/v1/racing-create")
    assert response.status_code == 409, response.get_data(as_text=True)
    assert response.json["error"]["code"] == "CONFLICT"
    listed = client.get("/api/v1/knowledge-bases", headers=creator.headers).json
    assert listed["pagination"]["total"] == 1
