"""Bad input, on every route, is a clear 4xx in the error envelope and changes nothing:
unknown fields named (with the field that was meant), JSON that is malformed, too deep
or not an object, text no database can store (NUL, unpaired surrogates), integers
past what a column holds; and `per_page` is the lists' other name for `limit`."""

import io
import re
import uuid

import pytest

DEEP = 100_000


def details(response) -> list[dict]:
    assert response.is_json, response.get_data(as_text=True)[:300]
    error = response.json["error"]
    assert set(error) == {"code", "message", "details", "request_id", "timestamp"}
    assert isinstance(error["details"], list), error
    return error["details"]


def ai_config(client, account) -> dict:
    return client.get("/api/v1/creators/ai-config", headers=account.headers).json


# --- unknown fields -----------------------------------------------------------------------


def test_an_unknown_field_is_a_422_naming_the_field_meant_and_nothing_changes(client, creator):
    before = ai_config(client, creator)
    response = client.put(
        "/api/v1/creators/ai-config",
        headers=creator.headers,
        json={"customPrompt": "Talk like a pirate.", "tone": "direct"},
    )
    assert response.status_code == 422 and response.json["error"]["code"] == "VALIDATION_ERROR"
    assert details(response) == [
        {"field": "customPrompt", "message": "Unknown field customPrompt: did you mean custom_prompt?"}
    ]
    assert ai_config(client, creator) == before  # not even the valid `tone` was applied


def test_every_unknown_field_is_named_and_read_only_ones_say_so(client, creator):
    response = client.put(
        "/api/v1/creators/ai-config",
        headers=creator.headers,
        json={"FALLBACK-MESSAGE": "x", "colour": "red", "updated_at": "2026-01-01T00:00:00Z"},
    )
    assert response.status_code == 422
    assert sorted(map(tuple, (d.values() for d in details(response)))) == [
        ("FALLBACK-MESSAGE", "Unknown field FALLBACK-MESSAGE: did you mean fallback_message?"),
        ("colour", "Unknown field colour."),
        ("updated_at", "updated_at is read-only: it cannot be set."),
    ]


def test_a_smuggled_tenant_field_is_refused_not_ignored(client, two_creators):
    alice, bob = two_creators
    response = client.post(
        "/api/v1/knowledge-bases", headers=alice.headers, json={"name": "Mine", "creator_id": bob.creator_id}
    )
    assert response.status_code == 422 and details(response)[0]["field"] == "creator_id"
    assert client.get("/api/v1/knowledge-bases", headers=alice.headers).json["pagination"]["total"] == 0


def test_an_unknown_form_field_of_an_upload_is_named_too(client, creator):
    kb = client.post("/api/v1/knowledge-bases", headers=creator.headers, json={"name": "Guide"}).json
    response = client.post(
        f"/api/v1/knowledge-bases/{kb['id']}/documents",
        headers=creator.headers,
        data={"file": (io.BytesIO(b"Rest two days a week."), "rest.txt"), "Title": "Rest"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert details(response) == [{"field": "Title", "message": "Unknown field Title: did you mean title?"}]
    nul = client.post(
        f"/api/v1/knowledge-bases/{kb['id']}/documents",
        headers=creator.headers,
        data={"file": (io.BytesIO(b"Rest two days a week."), "rest.txt"), "title": "Re\u0000st"},
        content_type="multipart/form-data",
    )
    assert nul.status_code == 422 and details(nul)[0]["field"] == "title"
    listed = client.get(f"/api/v1/knowledge-bases/{kb['id']}/documents", headers=creator.headers).json
    assert listed["pagination"]["total"] == 0


def test_a_form_part_whose_name_does_not_parse_is_a_422(client, creator):
    kb = client.post("/api/v1/knowledge-bases", headers=creator.headers, json={"name": "Guide"}).json
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="\x1d\\"\r\n\r\nvalue\r\n'
        b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nRest well.\r\n--XX--\r\n'
    )
    response = client.post(
        f"/api/v1/knowledge-bases/{kb['id']}/documents",
        headers=creator.headers,
        data=body,
        content_type="multipart/form-data; boundary=XX",
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert details(response) == [{"field": None, "message": "A form field has no readable name."}]


def test_unknown_query_parameters_are_still_ignored(client, creator):
    assert client.get("/api/v1/api-keys?_=12345&utm_source=x", headers=creator.headers).status_code == 200


# --- JSON that is malformed, too deep or not an object --------------------------------------


def test_malformed_json_is_a_400_with_details_as_a_list(client, creator):
    response = client.put(
        "/api/v1/creators/profile", headers=creator.headers | {"Content-Type": "application/json"}, data="{not json"
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "BAD_REQUEST"
    [detail] = details(response)
    assert detail["field"] is None and detail["message"].startswith("Not valid JSON")


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/creators/profile", "/api/v1/users"])
def test_json_nested_100000_deep_is_a_400_not_a_recursion_error(client, creator, path):
    body = "[" * DEEP + "]" * DEEP
    response = client.post(path, headers=creator.headers | {"Content-Type": "application/json"}, data=body)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "nested deeper than" in details(response)[0]["message"]


def test_nesting_up_to_the_limit_is_accepted(client, creator):
    nested = {}
    for _ in range(30):  # 30 levels inside profile_data, 31 inside the body: under the limit of 32
        nested = {"a": nested}
    response = client.post(
        "/api/v1/users", headers=creator.headers, json={"external_id": "deep-1", "profile_data": nested}
    )
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("body", ["[]", '"email"', "42", "null", '[{"email": "a@example.com"}]'])
def test_a_json_body_that_is_not_an_object_is_a_422(client, body):
    response = client.post("/api/v1/auth/login", headers={"Content-Type": "application/json"}, data=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["error"]["message"] == "The JSON body must be an object."


# --- text no database can store ------------------------------------------------------------


def test_nul_in_a_name_is_a_422_and_nothing_is_stored(client, creator):
    response = client.post("/api/v1/knowledge-bases", headers=creator.headers, json={"name": "Guide\u0000"})
    assert response.status_code == 422
    assert details(response) == [{"field": "name", "message": "Must not contain NUL characters (\\u0000)."}]
    assert client.get("/api/v1/knowledge-bases", headers=creator.headers).json["pagination"]["total"] == 0


def test_nul_deep_in_a_body_or_in_a_key_is_named_by_its_path(client, creator):
    response = client.post(
        "/api/v1/users",
        headers=creator.headers,
        json={"external_id": "u-1", "attributes": {"city\u0000": "Lisbon"}, "tags": ["ok", "b\u0000d"]},
    )
    assert response.status_code == 422
    assert {d["field"] for d in details(response)} == {"attributes.city\ufffd", "tags.1"}  # shown, not echoed
    assert client.get("/api/v1/users", headers=creator.headers).json["pagination"]["total"] == 0


def test_an_unpaired_surrogate_is_a_422(client, creator):
    raw = '{"user_id": "u-1", "session_id": "s-1", "message": "hi \\ud800 there"}'
    response = client.post(
        "/api/v1/chat/messages", headers=creator.headers | {"Content-Type": "application/json"}, data=raw
    )
    assert response.status_code == 422
    assert details(response)[0]["field"] == "message" and "surrogate" in details(response)[0]["message"]
    # A surrogate pair is one real character (an emoji): accepted.
    paired = raw.replace("\\ud800", "\\ud83d\\ude00")
    ok = client.post(
        "/api/v1/chat/messages", headers=creator.headers | {"Content-Type": "application/json"}, data=paired
    )
    assert ok.status_code == 200
    stored = client.get(f"/api/v1/conversations/{ok.json['conversation_id']}/messages", headers=creator.headers)
    assert "\U0001f600" in stored.json["messages"][0]["text"]


def test_nul_in_a_query_string_or_a_path_segment_is_a_422(client, creator):
    search = client.get("/api/v1/users?search=a%00", headers=creator.headers)
    assert search.status_code == 422 and details(search)[0]["field"] == "search"
    session = client.get("/api/v1/chat/sessions/s%001/context?user_id=u-1", headers=creator.headers)
    assert session.status_code == 422 and details(session)[0]["field"] == "session_id"


# --- integers past what a column holds -------------------------------------------------------


@pytest.mark.parametrize("page", [2**31, 2**63, 10**40])
def test_a_page_past_32_bits_is_a_422(client, creator, page):
    for path in ("/api/v1/api-keys", "/api/v1/outbox", "/api/v1/programs", "/api/v1/knowledge-bases"):
        response = client.get(f"{path}?page={page}", headers=creator.headers)
        assert response.status_code == 422, (path, response.get_data(as_text=True))
        assert details(response)[0]["field"] == "page"


def test_a_page_far_past_the_end_is_just_empty(client, creator):
    response = client.get(f"/api/v1/api-keys?page={2**31 - 1}", headers=creator.headers)
    assert response.status_code == 200 and response.json["api_keys"] == []


@pytest.mark.parametrize("number", [2**31, 2**63, 10**40])
def test_a_version_number_past_32_bits_is_not_there(client, creator, number):
    program = client.post("/api/v1/programs", headers=creator.headers, json={"name": "Couch to 5K"}).json
    response = client.get(f"/api/v1/programs/{program['id']}/versions/{number}", headers=creator.headers)
    assert response.status_code == 404 and response.json["error"]["code"] == "RESOURCE_NOT_FOUND"


# --- per_page, the sources' name for limit --------------------------------------------------


def test_per_page_is_an_alias_of_limit_on_every_list(client, creator):
    for i in range(3):
        client.post("/api/v1/api-keys", headers=creator.headers, json={"name": f"k{i}"})
    page = client.get("/api/v1/api-keys?page=2&per_page=2", headers=creator.headers).json
    assert page["pagination"] == {"page": 2, "limit": 2, "total": 3, "pages": 2} and len(page["api_keys"]) == 1
    team = client.get("/api/v1/team/members?per_page=1", headers=creator.headers).json
    assert team["pagination"]["limit"] == 1
    outbox = client.get("/api/v1/outbox?per_page=7", headers=creator.headers).json
    assert outbox["pagination"]["limit"] == 7


def test_per_page_keeps_the_limits_rules(client, creator):
    too_many = client.get("/api/v1/api-keys?per_page=101", headers=creator.headers)
    assert too_many.status_code == 422 and details(too_many)[0]["field"] == "per_page"
    both = client.get("/api/v1/api-keys?per_page=5&limit=6", headers=creator.headers)
    assert both.status_code == 422 and details(both)[0]["field"] == "per_page"
    assert client.get("/api/v1/api-keys?per_page=5&limit=5", headers=creator.headers).status_code == 200


# --- the document states the rules ---------------------------------------------------------


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").json


def parameter(spec, path, method, name) -> dict:
    operation = spec["paths"][path][method]
    params = operation.get("parameters", []) + spec["paths"][path].get("parameters", [])
    return next(p for p in params if p["name"] == name)


def test_the_document_states_per_page_and_integer_bounds(spec):
    per_page = parameter(spec, "/api/v1/api-keys", "get", "per_page")["schema"]
    assert per_page["maximum"] == 100 and per_page["minimum"] == 1
    assert parameter(spec, "/api/v1/api-keys", "get", "page")["schema"]["maximum"] == 2**31 - 1
    number = parameter(spec, "/api/v1/programs/{program_id}/versions/{number}", "get", "number")["schema"]
    assert number["maximum"] == 2**31 - 1


def test_every_operation_documents_the_errors_the_edge_answers(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            codes = set(operation["responses"])
            assert "429" in codes, (method, path)
            if "{" in path:
                assert {"404", "422"} <= codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= codes, (method, path)


def test_unknown_ids_in_the_path_are_404_as_documented(client, creator):
    response = client.get(f"/api/v1/knowledge-bases/{uuid.uuid4()}", headers=creator.headers)
    assert response.status_code == 404


def test_the_document_states_the_phone_password_and_timezone_rules(spec):
    schemas = spec["components"]["schemas"]
    assert schemas["UserWrite"]["properties"]["phone_e164"]["pattern"] == r"^\+[1-9]\d{7,14}$"
    assert "America/New_York" in schemas["UserWrite"]["properties"]["timezone"]["enum"]
    for schema, field in (("Register", "password"), ("ResetConfirm", "new_password"), ("MemberCreate", "password")):
        password = schemas[schema]["properties"][field]
        assert (password["minLength"], password["maxLength"]) == (10, 128), schema
        assert re.search(password["pattern"], "two-rest-days") and not re.search(password["pattern"], "onlyletters")
        assert "common password" in password["description"]
    lookup = parameter(spec, "/api/v1/users/lookup", "get", "phone")["schema"]
    assert lookup["pattern"] == r"^\+[1-9]\d{7,14}$"


def test_refusals_keep_their_plain_messages(client, creator):
    phone = client.post("/api/v1/users", headers=creator.headers, json={"phone_e164": "0044 20 7946"})
    assert phone.status_code == 422 and "E.164" in details(phone)[0]["message"]
    zone = client.post(
        "/api/v1/users", headers=creator.headers, json={"phone_e164": "+14155551234", "timezone": "Mars/Base"}
    )
    assert details(zone) == [
        {"field": "timezone", "message": "Unknown timezone Mars/Base: use an IANA name such as America/New_York."}
    ]
    weak = client.post("/api/v1/auth/register", json={"email": "n@example.com", "password": "short", "full_name": "N"})
    assert details(weak)[0] == {"field": "password", "message": "Use at least 10 characters."}
