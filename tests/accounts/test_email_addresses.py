"""One e-mail rule on pages and API: local-network domains (the demo's .local) are fine,
malformed addresses are refused and change nothing."""

import pytest

from tests.conftest import csrf_token_from

MALFORMED = ["plainaddress", "a@b..com", "a..b@example.com", "a@-example.com", "a b@example.com", "a@example"]


def profile_form(client, email):
    token = csrf_token_from(client.get("/settings/profile").get_data(as_text=True))
    return client.post(
        "/settings/profile",
        data={"full_name": "Alice Coach", "email": email, "timezone": "UTC", "csrf_token": token},
    )


@pytest.mark.parametrize("email", ["demo@creatorhub.local", "coach@studio.test", "me@localhost"])
def test_profile_page_saves_a_local_network_address(client, creator, page_login, email):
    page_login(client, creator.email)
    response = profile_form(client, email)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert client.get("/api/v1/creators/profile", headers=creator.headers).json["email"] == email


@pytest.mark.parametrize("email", MALFORMED)
def test_profile_page_refuses_malformed_addresses_and_keeps_the_old_one(client, creator, page_login, email):
    page_login(client, creator.email)
    response = profile_form(client, email)
    assert response.status_code == 200 and "Invalid email address" in response.get_data(as_text=True)
    assert client.get("/api/v1/creators/profile", headers=creator.headers).json["email"] == creator.email


def test_register_page_accepts_the_demo_style_address(client):
    token = csrf_token_from(client.get("/register").get_data(as_text=True))
    response = client.post(
        "/register",
        data={
            "full_name": "Dee Demo",
            "email": "dee@creatorhub.local",
            "password": "dee-demo-pass-1",
            "confirm": "dee-demo-pass-1",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_team_page_adds_a_local_network_member(client, creator, page_login):
    page_login(client, creator.email)
    token = csrf_token_from(client.get("/settings/team").get_data(as_text=True))
    client.post(
        "/settings/team",
        data={"email": "ana@creatorhub.local", "full_name": "Ana", "role": "agent", "csrf_token": token},
    )
    members = client.get("/api/v1/team/members?role=agent", headers=creator.headers).json["members"]
    assert [m["email"] for m in members] == ["ana@creatorhub.local"]


def test_api_accepts_local_addresses_and_refuses_malformed_ones(client, creator):
    registered = client.post(
        "/api/v1/auth/register",
        json={"email": "api@creatorhub.local", "password": "api-demo-pass-1", "full_name": "Api Demo"},
    )
    assert registered.status_code == 201
    assert (
        client.put(
            "/api/v1/creators/profile", headers=creator.headers, json={"email": "demo@creatorhub.local"}
        ).status_code
        == 200
    )
    for email in MALFORMED:
        response = client.put("/api/v1/creators/profile", headers=creator.headers, json={"email": email})
        assert response.status_code == 422, email
        assert response.json["error"]["details"][0]["field"] == "email"
    assert client.get("/api/v1/creators/profile", headers=creator.headers).json["email"] == "demo@creatorhub.local"
