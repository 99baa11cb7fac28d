"""Audience pages: list, user page with consent change, imports with their report, segments; roles and tenants."""

import html
import io
import re

from tests.audience.conftest import create_user
from tests.conftest import csrf_token_from


def logged_in(client, page_login, account):
    assert page_login(client, account.email).status_code == 302
    return client


def test_list_filters_and_user_page(client, page_login, creator):
    ann = create_user(
        client, creator, phone_e164="+14155550001", display_name="Ann <b>Lee</b>", consent_state="OPT_IN", tags=["vip"]
    )
    create_user(client, creator, external_id="crm-2", display_name="Bob")
    logged_in(client, page_login, creator)
    page = client.get("/audience/").get_data(as_text=True)
    assert "Ann &lt;b&gt;Lee&lt;/b&gt;" in page and "Bob" in page
    only_ann = client.get("/audience/?consent_state=OPT_IN", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Ann" in only_ann and "Bob" not in only_ann and "<html" not in only_ann
    assert "Bob" in client.get("/audience/?q=crm").get_data(as_text=True)
    user_page = client.get(f"/audience/users/{ann['id']}").get_data(as_text=True)
    assert "+14155550001" in user_page and "vip" in user_page and "Pending → Opt in" in user_page


def test_change_consent_from_the_user_page(client, page_login, creator):
    user = create_user(client, creator, phone_e164="+14155550001")
    logged_in(client, page_login, creator)
    token = csrf_token_from(client.get(f"/audience/users/{user['id']}").get_data(as_text=True))
    response = client.post(
        f"/audience/users/{user['id']}/consent",
        data={"state": "OPT_OUT", "detail": "asked by phone", "csrf_token": token},
    )
    assert response.status_code == 302
    history = client.get(f"/api/v1/users/{user['id']}", headers=creator.headers).json["consent_history"]
    assert (history[0]["state"], history[0]["source"], history[0]["detail"]) == (
        "OPT_OUT",
        "dashboard",
        "asked by phone",
    )


def test_create_and_edit_user_forms(client, page_login, creator):
    logged_in(client, page_login, creator)
    token = csrf_token_from(client.get("/audience/users/new").get_data(as_text=True))
    bad = client.post("/audience/users/new", data={"phone_e164": "555", "csrf_token": token})
    assert "E.164" in bad.get_data(as_text=True)
    created = client.post(
        "/audience/users/new",
        data={
            "phone_e164": "+14155550009",
            "display_name": "Zoe",
            "tags": "a, b",
            "attributes": '{"city": "Reno"}',
            "csrf_token": token,
        },
    )
    assert created.status_code == 302
    user = client.get("/api/v1/users/lookup?phone=%2B14155550009", headers=creator.headers).json
    assert user["tags"] == ["a", "b"] and user["attributes"] == {"city": "Reno"}
    edited = client.post(
        f"/audience/users/{user['id']}/edit",
        data={"display_name": "Zoe K", "tags": "b", "attributes": '{"tier": "gold"}', "csrf_token": token},
    )
    assert edited.status_code == 302
    user = client.get(f"/api/v1/users/{user['id']}", headers=creator.headers).json
    assert (user["display_name"], user["tags"], user["attributes"]) == ("Zoe K", ["b"], {"tier": "gold"})


def test_import_page_shows_progress_then_the_report(client, page_login, creator, run_jobs):
    logged_in(client, page_login, creator)
    token = csrf_token_from(client.get("/audience/imports").get_data(as_text=True))
    csv = b"phone_e164,name\n+14155550001,Ann\nnope,Bob\n"
    response = client.post(
        "/audience/imports",
        data={"file": (io.BytesIO(csv), "people.csv"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    pending = client.get(response.location, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in pending
    run_jobs()
    done = client.get(response.location, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "every 1s" not in done and "completed" in done and "E.164" in done


def test_segments_page_creates_and_evaluates(client, page_login, creator):
    create_user(client, creator, phone_e164="+14155550001", tags=["vip"], consent_state="OPT_IN")
    logged_in(client, page_login, creator)
    token = csrf_token_from(client.get("/audience/segments").get_data(as_text=True))
    bad = client.post(
        "/audience/segments",
        data={"name": "X", "criteria": '{"attribute": "tags", "operator": "equals", "value": 1}', "csrf_token": token},
    )
    assert "filter_criteria.operator" in bad.get_data(as_text=True)
    criteria = '{"operator": "AND", "conditions": [{"attribute": "tags", "operator": "has", "value": "vip"}]}'
    assert (
        client.post("/audience/segments", data={"name": "VIPs", "criteria": criteria, "csrf_token": token}).status_code
        == 302
    )
    segment_id = client.get("/api/v1/segments", headers=creator.headers).json["segments"][0]["id"]
    result = client.post(f"/audience/segments/{segment_id}/evaluate", headers={"X-CSRFToken": token}).get_data(
        as_text=True
    )
    assert '<strong class="segment-count">1</strong>' in result and "+14155550001" in result


def test_agents_view_users_but_do_not_edit_or_import(client, page_login, creator, make_member):
    user = create_user(client, creator, phone_e164="+14155550001")
    agent = make_member(creator, "agent")
    logged_in(client, page_login, agent)
    page = client.get(f"/audience/users/{user['id']}")
    assert page.status_code == 200 and "Change consent" not in page.get_data(as_text=True)
    assert client.get("/audience/imports").status_code == 403
    assert client.get(f"/audience/users/{user['id']}/edit").status_code == 403


def test_another_creators_users_imports_and_segments_are_404_on_pages(client, page_login, two_creators, run_import):
    alice, bob = two_creators
    user = create_user(client, alice, phone_e164="+14155550001", display_name="Alice's customer")
    report = run_import(alice, "phone_e164\n+14155550002\n")
    segment = client.post(
        "/api/v1/segments",
        headers=alice.headers,
        json={"name": "S", "filter_criteria": {"attribute": "tags", "operator": "has", "value": "x"}},
    ).json
    logged_in(client, page_login, bob)
    assert client.get(f"/audience/users/{user['id']}").status_code == 404
    assert client.get(f"/audience/imports/{report['id']}").status_code == 404
    token = csrf_token_from(client.get("/audience/segments").get_data(as_text=True))
    assert (
        client.post(f"/audience/segments/{segment['id']}/evaluate", headers={"X-CSRFToken": token}).status_code == 404
    )
    assert "Alice's customer" not in client.get("/audience/").get_data(as_text=True)


def test_deleting_a_user_from_their_page_says_who_went_and_lists_the_rest(client, page_login, creator):
    ann = create_user(client, creator, phone_e164="+14155550001", display_name="Ann")
    create_user(client, creator, phone_e164="+14155550002", display_name="Bob")
    logged_in(client, page_login, creator)
    token = csrf_token_from(client.get(f"/audience/users/{ann['id']}").get_data(as_text=True))
    response = client.post(f"/audience/users/{ann['id']}/delete", data={"csrf_token": token})
    assert response.status_code == 302 and response.location.endswith("/audience/")
    page = client.get(response.location).get_data(as_text=True)
    assert "Ann was deleted." in page and "Bob" in page
    assert client.get(f"/api/v1/users/{ann['id']}", headers=creator.headers).status_code == 404


def test_the_tags_field_splits_like_an_import_cell(client, page_login, creator, run_import):
    """One rule for both: commas, semicolons or pipes, trimmed, empty and repeated tags dropped."""
    logged_in(client, page_login, creator)
    token = csrf_token_from(client.get("/audience/users/new").get_data(as_text=True))
    cell = " runner; vip|runner,, beta "
    created = client.post("/audience/users/new", data={"phone_e164": "+14155550009", "tags": cell, "csrf_token": token})
    assert created.status_code == 302
    run_import(creator, f'phone_e164,tags\n+14155550010,"{cell}"\n')
    by_form, by_import = (
        client.get(f"/api/v1/users/lookup?phone=%2B{phone}", headers=creator.headers).json["tags"]
        for phone in ("14155550009", "14155550010")
    )
    assert by_form == by_import == ["beta", "runner", "vip"]


def test_saving_the_edit_form_keeps_an_api_tag_that_holds_a_comma(client, page_login, creator):
    """The form shows tags joined by commas; saving it unchanged must not split "size: 8,5" in two."""
    user = create_user(client, creator, phone_e164="+14155550001", tags=["size: 8,5", "vip"])
    logged_in(client, page_login, creator)
    page = client.get(f"/audience/users/{user['id']}/edit").get_data(as_text=True)
    shown = re.search(r'name="tags"[^>]*value="([^"]*)"', page).group(1)
    response = client.post(
        f"/audience/users/{user['id']}/edit",
        data={
            "display_name": "Ann",
            "tags": html.unescape(shown),
            "attributes": "{}",
            "csrf_token": csrf_token_from(page),
        },
    )
    assert response.status_code == 302
    saved = client.get(f"/api/v1/users/{user['id']}", headers=creator.headers).json
    assert (saved["display_name"], saved["tags"]) == ("Ann", ["size: 8,5", "vip"])
