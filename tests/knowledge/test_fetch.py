"""A URL import ends within its deadline and under its size cap, however the server sends.

The servers here are real HTTP servers on 127.0.0.1: one trickles a byte at a
time (each read well inside the per-read timeout, so only an overall deadline
stops it), one trickles its headers, one streams more than the cap without
saying how much.
"""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.knowledge.fetch import FetchError, fetch
from tests.knowledge.test_knowledge_api import create_kb

LOCAL = ["127.0.0.0/8"]


class _Trickler(BaseHTTPRequestHandler):
    stop: threading.Event  # set on the server class by the fixture

    def log_message(self, *args):
        pass

    def _trickle(self, pieces):
        for piece in pieces:
            if self.stop.wait(0.05):
                return
            try:
                self.wfile.write(piece)
                self.wfile.flush()
            except OSError:  # the client gave up: what the deadline is for
                return

    def do_GET(self):
        if self.path == "/body":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
            self._trickle(b"x" for _ in range(100000))
        elif self.path == "/headers":
            self._trickle(bytes([c]) for c in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 100000)
        elif self.path == "/endless":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            try:
                while not self.stop.is_set():
                    self.wfile.write(b"z" * 65536)
            except OSError:
                pass
        else:
            body = b"<html><title>Pacing</title><p>Easy days at a conversational pace.</p></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


@pytest.fixture
def slow_site():
    stop = threading.Event()
    handler = type("Handler", (_Trickler,), {"stop": stop})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    stop.set()
    server.shutdown()
    server.server_close()


def fetch_in_thread(*args, app=None, **kwargs):
    """Run fetch in a thread (in `app`'s context, as in a job) and wait a bounded time for its
    outcome: a hang fails the test, not the suite."""
    outcome = {}

    def run():
        try:
            if app is None:
                outcome["page"] = fetch(*args, **kwargs)
            else:
                with app.app_context():
                    outcome["page"] = fetch(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001  (the outcome under test)
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "fetch outlived its deadline"
    return outcome


@pytest.mark.parametrize("path", ["/body", "/headers"])
def test_a_trickling_server_fails_the_fetch_with_a_reason_at_the_deadline(slow_site, path):
    outcome = fetch_in_thread(f"{slow_site}{path}", 1024 * 1024, LOCAL, deadline_seconds=0.5)
    assert isinstance(outcome.get("error"), FetchError)
    assert "did not send the page within 0.5 seconds" in str(outcome["error"])


def test_the_size_cap_holds_while_streaming_a_body_of_unknown_length(slow_site):
    outcome = fetch_in_thread(f"{slow_site}/endless", 256 * 1024, LOCAL, deadline_seconds=10)
    assert isinstance(outcome.get("error"), FetchError)
    assert "larger than the 262144 byte limit" in str(outcome["error"])


def test_a_prompt_server_is_fetched_well_inside_the_deadline(slow_site):
    outcome = fetch_in_thread(f"{slow_site}/page", 1024 * 1024, LOCAL, deadline_seconds=10)
    assert outcome["page"].data.startswith(b"<html><title>Pacing")


def test_the_deadline_comes_from_the_config_in_a_job(app, slow_site):
    app.config["URL_IMPORT_DEADLINE_SECONDS"] = 0.5
    try:
        outcome = fetch_in_thread(f"{slow_site}/body", 1024 * 1024, LOCAL, app=app)
    finally:
        app.config["URL_IMPORT_DEADLINE_SECONDS"] = 30.0
    assert "within 0.5 seconds" in str(outcome["error"])


def test_a_refused_connection_reads_as_a_reason():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = fetch_in_thread(f"http://127.0.0.1:{port}/", 1024, LOCAL, deadline_seconds=5)
    assert "could not be fetched" in str(outcome["error"])


def test_a_url_import_from_a_trickling_server_fails_with_the_reason_and_frees_the_worker(
    app, client, creator, run_jobs, slow_site, monkeypatch
):
    monkeypatch.setitem(app.config, "URL_IMPORT_ALLOWED_NETWORKS", LOCAL)
    monkeypatch.setitem(app.config, "URL_IMPORT_DEADLINE_SECONDS", 0.5)
    kb = create_kb(client, creator)
    imported = client.post(
        f"/api/v1/knowledge-bases/{kb['id']}/documents/url", headers=creator.headers, json={"url": f"{slow_site}/body"}
    )
    assert imported.status_code == 201
    assert run_jobs() >= 1  # the job ends (the worker is free again), not after 20 s per read
    document = client.get(
        f"/api/v1/knowledge-bases/{kb['id']}/documents/{imported.json['id']}", headers=creator.headers
    ).json
    assert document["processing_status"] == "failed"
    assert "did not send the page within 0.5 seconds" in document["error_message"]
