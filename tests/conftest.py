"""Shared fixtures: the app on the configured backends, a clean state per test,
creators (two of them, for tenant isolation), page logins and job running.

The suite runs on whatever the environment names: PostgreSQL + Redis when
DATABASE_URL and REDIS_URL are set (`make test` does both passes), else the
embedded defaults (an SQLite file and in-process fakeredis).
"""

import os
import re
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass

_TMP = tempfile.mkdtemp(prefix="creator-hub-tests-")
os.environ["APP_ENV"] = "testing"
os.environ["INSTANCE_PATH"] = _TMP  # SQLite file and Chroma store of the embedded pass

import pytest  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import text  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from app.auth import services as auth_services  # noqa: E402
from app.extensions import db, limiter  # noqa: E402
from app.jobs import run_pending_jobs  # noqa: E402
from app.models import Role  # noqa: E402

PASSWORD = "correct-horse-42"


_EXIT_STATUS = {"status": 0}


def pytest_sessionfinish(session, exitstatus):
    _EXIT_STATUS["status"] = int(exitstatus)


def pytest_unconfigure(config):
    """Never let a leaked thread keep the finished suite running until CI's time limit.

    A socket a test forgot to close leaves a non-daemon thread behind, and the
    interpreter waits for it forever at exit. Name the leak loudly, then leave
    with the suite's own exit status.
    """
    leaked = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    for thread in leaked:
        thread.join(timeout=5)
    leaked = [t.name for t in leaked if t.is_alive()]
    if leaked:
        print(f"\nWARNING: threads leaked by the tests, not waited for: {', '.join(leaked)}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS["status"])


def _reset_schema(app):
    """Start the session from an empty database, built by the real migrations."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade()


def _wipe(app):
    with app.app_context():
        tables = db.metadata.sorted_tables
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(f"TRUNCATE {', '.join(t.name for t in tables)} CASCADE"))
        else:
            for table in reversed(tables):
                db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()
    app.extensions["redis"].flushdb()
    limiter.reset()


@pytest.fixture(scope="session")
def app():
    app = create_app({"SERVER_NAME": None})
    _reset_schema(app)
    yield app


@pytest.fixture
def make_app(app):
    """Build another app (say with production config) for one test.

    The extensions are module-level singletons, and Flask-Limiter keeps one
    storage for all apps: the extra app gets the session app's storage so it
    cannot re-point the suite's rate-limit counters somewhere else.
    """

    def make(config=None, **overrides):
        storage = {"RATELIMIT_STORAGE_URI": app.config["RATELIMIT_STORAGE_URI"]}
        if isinstance(config, type):
            return create_app(type("TestVariant", (config,), storage | overrides))
        return create_app((config or {}) | overrides | storage)

    return make


@pytest.fixture(autouse=True)
def _push_request_context():
    """Replaces pytest-flask's: each request gets its own app context, `g` and DB
    session, as in production, instead of all sharing one for the whole test."""
    yield


@pytest.fixture(autouse=True)
def clean_state(app):
    yield
    _wipe(app)


@pytest.fixture
def backend(app):
    with app.app_context():
        return db.engine.dialect.name


@dataclass
class Account:
    """A creator's account as a test sees it: ids, credentials and tokens."""

    creator_id: str
    member_id: str
    email: str
    password: str
    role: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.access_token}"}


def _account(member, tokens) -> Account:
    return Account(
        str(member.creator_id),
        str(member.id),
        member.email,
        PASSWORD,
        member.role.value,
        tokens["access_token"],
        tokens["refresh_token"],
    )


@pytest.fixture
def make_creator(app):
    """make_creator(name) -> the owner Account of a new creator."""

    def make(name: str = "Alice Coach") -> Account:
        email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:8]}@example.com"
        with app.app_context():
            member = auth_services.register_creator(email, PASSWORD, name, f"{name} Coaching")
            return _account(member, auth_services.login_for_api(member, "pytest", "127.0.0.1"))

    return make


@pytest.fixture
def make_member(app):
    """make_member(owner_account, "agent"|"admin") -> an Account in the same team."""

    def make(owner: Account, role: str = "agent") -> Account:
        from app.models import Creator

        with app.app_context():
            creator = db.session.get(Creator, uuid.UUID(owner.creator_id))
            email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
            member = auth_services.add_team_member(creator, email, f"Team {role}", Role(role), PASSWORD)
            return _account(member, auth_services.login_for_api(member, "pytest", "127.0.0.1"))

    return make


@pytest.fixture
def creator(make_creator) -> Account:
    return make_creator("Alice Coach")


@pytest.fixture
def two_creators(make_creator) -> tuple[Account, Account]:
    """Two tenants: every domain proves with these that neither sees the other."""
    return make_creator("Alice Coach"), make_creator("Bob Trainer")


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    assert match, "page has no CSRF token"
    return match.group(1)


@pytest.fixture
def page_login():
    """page_login(client, email, password) logs a browser-like client in through the form."""

    def login(client, email: str, password: str = PASSWORD):
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        return client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    return login


@pytest.fixture
def run_jobs(app):
    """Run every queued RQ job now, through a real RQ worker, and return the count."""
    return lambda: run_pending_jobs(app)


@pytest.fixture(scope="session")
def live_server_url(app):
    """The app served over real HTTP on 127.0.0.1, in a thread of this process."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
