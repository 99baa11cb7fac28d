"""How values read on the dashboard: the shared filters, and every page rendered with
empty or sparse data showing no "None", no raw code such as no_response or OPT_IN,
and sizes as "676 bytes" rather than "676 Bytes"."""

import re
from html.parser import HTMLParser

import pytest

from app.filters import filesize, humanize_enum
from app.models import Role
from tests.audience.conftest import create_user, upload

# Text inside these is code or the user's own input, shown as typed.
LITERAL_TAGS = {"code", "pre", "textarea", "script", "style"}
RAW_CODE = re.compile(r"\b(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b")
NONE = re.compile(r"\bNone\b")
BYTES = re.compile(r"\bBytes\b")


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ("no_response", "No response"),
        ("OPT_IN", "Opt in"),
        (Role.OWNER, "Owner"),
        ("waiting_for_human", "Waiting for human"),
        ("ai_coach", "AI coach"),
        ("sms", "SMS"),
        ("whatsapp", "WhatsApp"),
        (None, "—"),
        ("", "—"),
    ],
)
def test_humanize_enum_reads_codes_as_words(value, label):
    assert humanize_enum(value) == label


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (None, "—"),
        (0, "0 bytes"),
        (1, "1 byte"),
        (676, "676 bytes"),
        (1024, "1 KB"),
        (1250, "1.2 KB"),
        (int(3.4 * 1024**2), "3.4 MB"),
        (1024**2 - 1, "1 MB"),  # rounds up into the next unit, never "1024 KB"
        (50 * 1024**2, "50 MB"),
    ],
)
def test_filesize_reads_bytes_as_a_size(value, label):
    assert filesize(value) == label


def test_a_none_in_a_template_prints_nothing(app):
    with app.app_context():
        assert app.jinja_env.from_string("[{{ value }}]").render(value=None) == "[]"


class _VisibleText(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.literal = [], 0

    def handle_starttag(self, tag, attrs):
        self.literal += tag in LITERAL_TAGS

    def handle_endtag(self, tag):
        self.literal -= tag in LITERAL_TAGS and self.literal > 0

    def handle_data(self, data):
        if not self.literal:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def problems(html: str) -> list[str]:
    text = visible_text(html)
    found = [f"raw code {m!r}" for m in sorted(set(RAW_CODE.findall(text)))]
    found += ["None"] * bool(NONE.search(text)) + ["Bytes"] * bool(BYTES.search(text))
    return found


def page_paths(app) -> list[str]:
    """Every dashboard page without parameters: new pages are swept without listing them here."""
    skipped = ("auth.", "system.", "widget.", "static")
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods
        and not rule.arguments
        and not rule.rule.startswith("/api/")
        and not rule.endpoint.startswith(skipped)
    )


def test_every_page_of_an_empty_workspace_reads_as_words(app, client, creator, page_login):
    page_login(client, creator.email)
    paths = page_paths(app)
    assert {"/audience/", "/knowledge/", "/inbox", "/programs/"} <= set(paths)
    report = {}
    for path in paths:
        response = client.get(path, follow_redirects=True)  # a form's address leads back to its page
        assert response.status_code == 200, path
        report[path] = problems(response.get_data(as_text=True))
    assert {path: found for path, found in report.items() if found} == {}


def test_audience_and_knowledge_pages_with_sparse_records_read_as_words(client, creator, page_login, run_jobs):
    """A user with nothing but an id, an import with refused rows, a segment never counted,
    a knowledge base without a description and a pasted text, before and after processing."""
    user = create_user(client, creator, external_id="crm-1")
    assert upload(client, creator, "phone_e164,city\n+14155550001,\nnope,Reno\n").status_code == 202
    client.post(
        "/api/v1/segments",
        headers=creator.headers,
        json={"name": "S", "filter_criteria": {"attribute": "consent_state", "operator": "equals", "value": "OPT_IN"}},
    )
    kb = client.post("/api/v1/knowledge-bases", headers=creator.headers, json={"name": "Notes"}).json
    document_id = client.post(
        f"/api/v1/knowledge-bases/{kb['id']}/documents/text",
        headers=creator.headers,
        json={"title": "Pasted", "content": "Rest two days a week."},
    ).json["id"]
    page_login(client, creator.email)
    pages = [
        f"/audience/users/{user['id']}",
        f"/audience/users/{user['id']}/edit",
        f"/knowledge/{kb['id']}",
        f"/knowledge/{kb['id']}/documents/{document_id}",
        "/knowledge/test-retrieval?q=nothing+like+this",
    ]
    before = {path: problems(client.get(path).get_data(as_text=True)) for path in pages}
    run_jobs()
    import_id = client.get("/api/v1/users/imports", headers=creator.headers).json["imports"][0]["id"]
    pages += ["/audience/", "/audience/imports", f"/audience/imports/{import_id}", "/audience/segments", "/knowledge/"]
    after = {path: problems(client.get(path).get_data(as_text=True)) for path in pages}
    assert {path: found for path, found in (before | after).items() if found} == {}
    assert "No attributes yet" in client.get(f"/audience/users/{user['id']}").get_data(as_text=True)
