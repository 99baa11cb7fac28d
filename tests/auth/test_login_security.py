"""Login hardening: safe redirects after login, and failed-login limits that throttle the
guesser's address without locking the real owner out."""

import pytest

from tests.conftest import PASSWORD, csrf_token_from

ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
OWNER = {"REMOTE_ADDR": "198.51.100.7"}


def login_page(client, email, password, next_=None, environ=None):
    environ = environ or {}
    token = csrf_token_from(client.get("/login", environ_base=environ).get_data(as_text=True))
    return client.post(
        "/login",
        query_string={"next": next_} if next_ is not None else None,
        data={"email": email, "password": password, "csrf_token": token},
        environ_base=environ,
    )


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/\\evil.example",
        "\\/evil.example",
        "/\t\\evil.example",
        " //evil.example",
        "//evil.example",
        "///evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\x00/evil.example",
        "\t/evil.example",
    ],
)
def test_login_never_redirects_off_site(client, creator, target):
    response = login_page(client, creator.email, PASSWORD, next_=target)
    if "\x00" in target:  # refused at the edge, as any URL with a NUL is
        assert response.status_code == 422 and "Location" not in response.headers
        return
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_login_keeps_a_local_next_with_its_query(client, creator):
    response = login_page(client, creator.email, PASSWORD, next_="/inbox?status=open")
    assert response.headers["Location"] == "/inbox?status=open"


def test_a_stranger_elsewhere_cannot_lock_the_owner_out_of_the_page(client, creator):
    for _ in range(5):
        assert login_page(client, creator.email, "bad-guess-123", environ=ATTACKER).status_code == 200
    # The guesser's address is throttled for this account, even with the right password...
    assert login_page(client, creator.email, PASSWORD, environ=ATTACKER).status_code == 429
    # ...while the owner, from their own address, gets in.
    assert login_page(client, creator.email, PASSWORD, environ=OWNER).headers["Location"] == "/"


def test_a_stranger_elsewhere_cannot_lock_the_owner_out_of_the_api(client, creator):
    def login(password, environ):
        body = {"email": creator.email, "password": password}
        return client.post("/api/v1/auth/login", json=body, environ_base=environ)

    for _ in range(5):
        assert login("bad-guess-123", ATTACKER).status_code == 401
    refused = login(PASSWORD, ATTACKER)
    assert refused.status_code == 429 and refused.json["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert login(PASSWORD, OWNER).status_code == 200


def test_page_and_api_failures_share_one_counter_per_address(client, creator):
    for _ in range(3):
        login_page(client, creator.email, "bad-guess-123", environ=ATTACKER)
    for _ in range(2):
        body = {"email": creator.email, "password": "bad-guess-123"}
        client.post("/api/v1/auth/login", json=body, environ_base=ATTACKER)
    body = {"email": creator.email, "password": PASSWORD}
    assert client.post("/api/v1/auth/login", json=body, environ_base=ATTACKER).status_code == 429


def test_a_login_body_that_is_not_an_object_is_a_422(client):
    for body in ([{"email": "a@example.com"}], "a@example.com", 42):
        response = client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 422 and response.json["error"]["code"] == "VALIDATION_ERROR"
