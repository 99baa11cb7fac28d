"""Serving as `make run` does: the CLI never starts the job threads, gunicorn does, and
over-long URLs and headers are answered in the JSON envelope, by the app or by gunicorn.

The gunicorn here is a real subprocess on 127.0.0.1, started from `make -n run`'s own
command line, on a fresh SQLite database built by `flask --app wsgi db upgrade`.
"""

import http.client
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STARTED = "embedded RQ workers and scheduler started"


def embedded_env(instance: Path, **extra) -> dict:
    """The environment of `make run`: development, embedded defaults, the given instance folder."""
    drop = {"DATABASE_URL", "REDIS_URL", "CHROMA_HOST", "OLLAMA_HOST", "APP_ENV", "FLASK_APP"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    paths = {"INSTANCE_PATH": str(instance), "PATH": f"{BIN}:{env.get('PATH', '')}"}
    return env | paths | extra


def make_run_command(port: int) -> list[str]:
    """The gunicorn command `make run` runs, on another port."""
    dry_run = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lines = dry_run.replace("\\\n", " ").splitlines()  # a recipe line may continue with a backslash
    [line] = [line for line in lines if "gunicorn" in line and not line.startswith("#")]
    line = line.replace("127.0.0.1:5000", f"127.0.0.1:{port}")
    return ["bash", "-c", f"exec {line}"] if "$" in line else shlex.split(line)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def fresh_instance(tmp_path_factory):
    return tmp_path_factory.mktemp("serving-instance")


def test_db_upgrade_through_wsgi_works_on_a_new_database(fresh_instance):
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=embedded_env(fresh_instance),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (fresh_instance / "creator_hub.sqlite3").exists()
    assert STARTED not in result.stderr  # a CLI command never starts the job threads


@pytest.fixture(scope="module")
def gunicorn(fresh_instance):
    """`make run`'s gunicorn on the migrated database; the app's own URL limit lowered to 5000 bytes."""
    if not (fresh_instance / "creator_hub.sqlite3").exists():
        pytest.skip("needs the database of test_db_upgrade_through_wsgi_works_on_a_new_database")
    port = free_port()
    log_path = fresh_instance / "gunicorn.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            make_run_command(port),
            cwd=ROOT,
            # HOME here: gunicorn's control socket would default to ~/.gunicorn, one path per machine.
            env=embedded_env(
                fresh_instance,
                HOME=str(fresh_instance),
                WEB_THREADS="8",
                WEB_CONNECTIONS="32",
                MAX_REQUEST_LINE_BYTES="5000",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        assert wait_for(lambda: listening(port) or process.poll() is not None), "gunicorn did not start"
        assert process.poll() is None, log_path.read_text()[-3000:]
        yield port, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def get(port: int, target: str, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", target, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def test_gunicorn_starts_the_embedded_job_threads_without_a_request(gunicorn):
    _port, log_path = gunicorn
    assert wait_for(lambda: STARTED in log_path.read_text()), log_path.read_text()[-3000:]


def test_gunicorn_opens_no_control_socket_another_gunicorn_would_share(gunicorn, fresh_instance):
    assert not (fresh_instance / ".gunicorn").exists()


def envelope(content_type, body) -> dict:
    assert content_type == "application/json"
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "details", "request_id", "timestamp"} and error["request_id"]
    return error


def test_a_6_kb_url_reaches_the_app_which_answers_its_limit_in_json(gunicorn):
    port, _log = gunicorn
    status, content_type, body = get(port, "/api/v1/knowledge-bases?q=" + "a" * 1000)
    assert status == 401 and content_type == "application/json"  # served: gunicorn let it through
    status, content_type, body = get(port, "/api/v1/knowledge-bases?q=" + "a" * 6000)
    assert status == 414
    error = envelope(content_type, body)
    assert error["code"] == "URI_TOO_LONG" and "over 5000 bytes" in error["message"]


def test_a_20_kb_url_is_refused_by_gunicorn_in_json(gunicorn):
    port, _log = gunicorn
    status, content_type, body = get(port, "/api/v1/knowledge-bases?q=" + "a" * 20000)
    assert status == 414
    assert envelope(content_type, body)["code"] == "URI_TOO_LONG"


def test_headers_up_to_16_kb_are_served_and_larger_ones_refused_in_json(gunicorn):
    port, _log = gunicorn
    status, _type, _body = get(port, "/health", {"Cookie": "c=" + "b" * 12000})
    assert status == 200
    status, content_type, body = get(port, "/health", {"Cookie": "c=" + "b" * 20000})
    assert status == 431
    assert envelope(content_type, body)["code"] == "REQUEST_HEADER_FIELDS_TOO_LARGE"


def test_the_app_refuses_a_long_url_in_the_envelope_on_the_api_and_with_a_page_elsewhere(app, client, creator):
    limit = app.config["MAX_REQUEST_LINE_BYTES"]
    response = client.get("/api/v1/knowledge-bases?q=" + "a" * 6000, headers=creator.headers)
    assert response.status_code == 200  # under the default limit
    response = client.post("/api/v1/knowledge-bases?q=" + "a" * limit, headers=creator.headers, json={})
    assert response.status_code == 414  # before validation, auth or CSRF look at it
    assert response.json["error"]["code"] == "URI_TOO_LONG"
    assert response.json["error"]["request_id"] == response.headers["X-Request-ID"]
    page = client.get("/login?next=" + "a" * limit)
    assert page.status_code == 414 and page.mimetype == "text/html"
