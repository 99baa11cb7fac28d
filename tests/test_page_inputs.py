"""Dashboard pages take hostile input like the API does: a NUL, a lone surrogate or a page
number past any integer in a URL or a form is refused or read as nothing, never a 500
(PostgreSQL cannot store a NUL, nor a BIGINT past 2**63)."""

from tests.conftest import csrf_token_from

HOSTILE_QUERIES = (
    "?q=a%00&search=a%00&status=a%00&channel=a%00&user=a%00&tag=a%00&sort=a%00&user_id=a%00",
    "?q=%ED%A0%80",  # a lone surrogate as UTF-8 would write it
    "?page=99999999999999999999999",
    "?page=-5",
)


def dashboard_pages(app) -> list[str]:
    """Every page a creator opens without an id in its URL."""
    rules = [r for r in app.url_map.iter_rules() if "GET" in r.methods and not r.arguments]
    return [str(r) for r in rules if not str(r).startswith(("/api", "/static", "/widget", "/webhooks"))]


def test_no_page_answers_a_hostile_query_with_a_500(app, client, creator, page_login):
    page_login(client, creator.email)
    failures = []
    for path in dashboard_pages(app):
        for query in HOSTILE_QUERIES:
            status = client.get(path + query).status_code
            if status >= 500:
                failures.append((path, query, status))
    assert failures == []


def test_a_page_past_the_last_is_an_empty_page(client, creator, page_login):
    page_login(client, creator.email)
    assert client.get("/audience/?page=99999999999999999999999").status_code == 200


def test_a_form_with_a_nul_is_refused_and_stores_nothing(client, creator, page_login):
    page_login(client, creator.email)
    token = csrf_token_from(client.get("/audience/users/new").get_data(as_text=True))
    refused = client.post(
        "/audience/users/new", data={"csrf_token": token, "display_name": "Ann\x00", "external_id": "a1"}
    )
    assert refused.status_code == 422 and "cannot be stored" in refused.get_data(as_text=True)
    assert client.get("/api/v1/users", headers=creator.headers).json["users"] == []
