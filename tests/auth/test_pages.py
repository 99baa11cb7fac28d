"""Dashboard register, login, logout, CSRF and password pages."""

import logging
import re

import pytest

from tests.conftest import PASSWORD, csrf_token_from


def form_post(client, path, data):
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    return client.post(path, data=data | {"csrf_token": token})


def test_register_page_creates_workspace_and_signs_in(client):
    response = form_post(
        client,
        "/register",
        {
            "full_name": "Rita Runner",
            "company_name": "Run Club",
            "email": "rita@example.com",
            "password": "rita-runs-far-1",
            "confirm": "rita-runs-far-1",
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/").get_data(as_text=True)
    assert "Hello, Rita" in home and "Run Club" in home


def test_register_page_shows_field_errors_and_keeps_input(client, creator):
    response = form_post(
        client, "/register", {"full_name": "Dup", "email": creator.email, "password": "short", "confirm": "other"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Use at least 10 characters." in html and "The passwords differ." in html
    assert f'value="{creator.email}"' in html


def test_login_logout_cycle(client, creator, page_login):
    assert page_login(client, creator.email).headers["Location"] == "/"
    assert client.get("/").status_code == 200
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_shows_error(client, creator, page_login):
    response = page_login(client, creator.email, "wrong-pass-11")
    assert response.status_code == 200 and "Wrong e-mail or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_next_parameter_never_redirects_off_site(client, creator):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    for target, expected in (
        ("/settings/team", "/settings/team"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
    ):
        client.get("/")  # fresh page load keeps the CSRF session
        response = client.post(
            f"/login?next={target}", data={"email": creator.email, "password": PASSWORD, "csrf_token": token}
        )
        assert response.headers["Location"] == expected
        client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").get_data(as_text=True))})
        token = csrf_token_from(client.get("/login").get_data(as_text=True))


@pytest.mark.parametrize("path", ["/login", "/register", "/forgot-password"])
def test_form_posts_without_csrf_token_are_refused(client, path):
    response = client.post(path, data={"email": "x@example.com", "password": "whatever-1"})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)


def test_htmx_post_needs_the_csrf_header(client, creator, page_login):
    page_login(client, creator.email)
    html = client.get("/settings/api-keys").get_data(as_text=True)
    header_token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    without = client.post("/settings/api-keys", data={"name": "k", "role": "admin"}, headers={"HX-Request": "true"})
    assert without.status_code == 400
    with_header = client.post(
        "/settings/api-keys",
        data={"name": "k", "role": "admin"},
        headers={"HX-Request": "true", "X-CSRFToken": header_token},
    )
    assert with_header.status_code == 200 and "new-api-key" in with_header.get_data(as_text=True)


def test_password_change_page_ends_other_browser_sessions(app, creator, page_login):
    laptop, phone = app.test_client(), app.test_client()
    page_login(laptop, creator.email)
    page_login(phone, creator.email)
    response = form_post(
        laptop,
        "/settings/password",
        {"current_password": PASSWORD, "password": "new-pass-word-9", "confirm": "new-pass-word-9"},
    )
    assert response.status_code == 302
    assert laptop.get("/").status_code == 200  # this session continues
    assert phone.get("/").status_code == 302  # the other one is signed out
    assert phone.get("/").headers["Location"].startswith("/login")


def test_forgot_and_reset_password_pages(client, creator, run_jobs, caplog, page_login):
    caplog.set_level(logging.INFO)
    response = form_post(client, "/forgot-password", {"email": creator.email})
    assert response.status_code == 302
    run_jobs()
    body = next(r.body for r in caplog.records if getattr(r, "subject", "").startswith("Reset"))
    path = re.search(r"https?://[^/]+(/reset-password/\S+)", body).group(1)
    assert form_post(client, path, {"password": "reset-new-pass-5", "confirm": "reset-new-pass-5"}).status_code == 302
    assert page_login(client, creator.email, "reset-new-pass-5").headers["Location"] == "/"
    assert client.get(path).status_code == 302  # the link works only once


def test_login_page_is_limited_per_account(client, creator, page_login):
    for _ in range(5):
        assert page_login(client, creator.email, "bad-guess-123").status_code == 200
    assert page_login(client, creator.email, "bad-guess-123").status_code == 429
