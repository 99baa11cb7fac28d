"""Bad files and URLs end as a clear error or a failed document with a reason;
the worker survives and nothing already stored is lost."""

import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.knowledge.test_knowledge_api import GUIDE, create_kb, search, upload

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def kb(client, creator, run_jobs):
    """A knowledge base that already holds one good document."""
    kb = create_kb(client, creator)
    upload(client, creator, kb["id"], "guide.md", GUIDE.encode())
    run_jobs()
    return kb


def documents(client, creator, kb):
    return client.get(f"/api/v1/knowledge-bases/{kb['id']}/documents?limit=100", headers=creator.headers).json[
        "documents"
    ]


def assert_good_document_intact(client, creator, kb):
    assert "two full rest days" in search(client, creator, kb["id"], "rest days per week")[0]["content"]


def docx_with(document_xml: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        archive.writestr("word/document.xml", document_xml)
    return buffer.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>&lol3;</w:t></w:r></w:p></w:body></w:document>"""


@pytest.mark.parametrize(
    "filename,data,reason",
    [
        ("empty.txt", b"", "empty"),
        ("picture.txt", PNG, ""),
        ("program.exe", b"MZ\x90\x00" + b"\x00" * 100, ""),
        ("notes.docx", b"%PDF-1.4\n%broken", ""),
    ],
)
def test_bad_files_are_refused_at_upload(client, creator, kb, filename, data, reason):
    response = upload(client, creator, kb["id"], filename, data)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["details"][0]["field"] == "file" and reason in error["message"].lower()
    assert len(documents(client, creator, kb)) == 1
    assert_good_document_intact(client, creator, kb)


@pytest.mark.parametrize(
    "filename,data",
    [
        ("corrupt.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref"),
        ("bomb.docx", None),
        ("entities.docx", docx_with(BILLION_LAUGHS)),
    ],
)
def test_dangerous_files_fail_with_a_reason_and_the_worker_survives(client, creator, kb, run_jobs, filename, data):
    if filename == "bomb.docx":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("[Content_Types].xml", "<Types/>")
            archive.writestr("word/document.xml", b"<w:document>" + b" " * (300 * 1024 * 1024) + b"</w:document>")
        data = buffer.getvalue()
    response = upload(client, creator, kb["id"], filename, data)
    if response.status_code == 422:  # refused before storing: just as good
        assert response.json["error"]["message"]
    else:
        assert response.status_code == 201
        run_jobs()
        failed = next(d for d in documents(client, creator, kb) if d["id"] == response.json["id"])
        assert failed["processing_status"] == "failed" and len(failed["error_message"]) > 10
    # The worker keeps working: a good document after the bad one is processed.
    upload(client, creator, kb["id"], "after.txt", b"Hill repeats build leg strength.")
    run_jobs()
    assert "Hill repeats" in search(client, creator, kb["id"], "hill repeats")[0]["content"]
    assert_good_document_intact(client, creator, kb)


def test_file_over_the_size_limit_is_413_before_it_is_stored(app, client, creator, kb):
    app.config["MAX_CONTENT_LENGTH"] = 4096
    try:
        response = upload(client, creator, kb["id"], "big.txt", b"x" * 10_000)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 50 * 1024 * 1024
    assert response.status_code == 413 and response.json["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert len(documents(client, creator, kb)) == 1


@pytest.mark.parametrize(
    "filename,expected",
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("bad\x00name.txt", "badname.txt"),
        ("a" * 300 + ".txt", None),
    ],
)
def test_hostile_filenames_are_made_safe(client, creator, run_jobs, filename, expected):
    kb = create_kb(client, creator, name=f"Names {len(filename)}")
    response = upload(client, creator, kb["id"], filename, f"Content of {len(filename)}".encode())
    assert response.status_code == 201
    stored = response.json["filename"]
    assert "/" not in stored and "\x00" not in stored and len(stored.encode()) <= 255 and stored.endswith(".txt")
    if expected:
        assert stored == expected
    run_jobs()
    assert documents(client, creator, kb)[0]["processing_status"] == "completed"


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/redirect-to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        body = (
            b"<html><head><title>Pacing</title></head><body><h1>Pacing</h1>"
            b"<p>Run easy days at a conversational pace.</p></body></html>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def import_url(client, creator, kb, url):
    return client.post(f"/api/v1/knowledge-bases/{kb['id']}/documents/url", headers=creator.headers, json={"url": url})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://localhost/admin",
        "http://10.0.0.1/",
    ],
)
def test_urls_to_private_addresses_fail_with_a_reason(client, creator, kb, run_jobs, url):
    response = import_url(client, creator, kb, url)
    assert response.status_code == 201
    run_jobs()
    document = next(d for d in documents(client, creator, kb) if d["id"] == response.json["id"])
    assert document["processing_status"] == "failed"
    assert "private or reserved address" in document["error_message"]


def test_url_syntax_is_checked_at_once(client, creator, kb):
    for url in ("ftp://example.com/file", "javascript:alert(1)", "http://user:pw@example.com/"):
        assert import_url(client, creator, kb, url).status_code == 422


def test_url_import_where_the_deployment_allows_the_network(app, client, creator, kb, run_jobs, local_site):
    app.config["URL_IMPORT_ALLOWED_NETWORKS"] = ["127.0.0.0/8"]
    try:
        page = import_url(client, creator, kb, f"{local_site}/pacing").json
        redirect = import_url(client, creator, kb, f"{local_site}/redirect-to-metadata").json
        run_jobs()
    finally:
        app.config["URL_IMPORT_ALLOWED_NETWORKS"] = []
    by_id = {d["id"]: d for d in documents(client, creator, kb)}
    assert by_id[page["id"]]["processing_status"] == "completed" and by_id[page["id"]]["title"] == "Pacing"
    assert "conversational pace" in search(client, creator, kb["id"], "how fast on easy days")[0]["content"]
    # A redirect to the cloud metadata address is re-checked and refused.
    assert by_id[redirect["id"]]["processing_status"] == "failed"
    assert "169.254.169.254" in by_id[redirect["id"]]["error_message"]
