"""Schemathesis over the whole API, in process, on the pass's backend (SQLite or PostgreSQL).

Every operation of /api/v1/openapi.json gets the schema's examples, its coverage cases
(boundaries, wrong types, missing and extra fields, NUL bytes...) and a few generated
cases, valid and invalid, as a real creator. No answer may be a 5xx (a 503 only where
the operation documents it: it needs Ollama, which the suite has not), and every answer
must match the status codes and the response schema the document gives.

The budget is bounded (SCHEMATHESIS_EXAMPLES generated cases per operation) and the run
is derandomized with a fixed seed, so a failure reproduces. To hunt for new failures,
raise it: SCHEMATHESIS_EXAMPLES=100 pytest tests/api/test_schemathesis.py
"""

import os
import uuid
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from app import create_app
from app.auth import services as auth_services
from app.extensions import db
from app.models import Member

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5"))
SEED = 20260101
RAISED_LIMITS = {
    "RATELIMIT_API_GENERAL": "1000000 per hour",
    "RATELIMIT_API_AI": "1000000 per hour",
    "RATELIMIT_API_UPLOADS": "1000000 per hour",
    "RATELIMIT_AUTH_PER_IP": "1000000 per minute",
}


CASES: Counter = Counter()  # per operation, reported at the end of the module


@pytest.fixture(scope="module", autouse=True)
def report_cases(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and CASES:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\nschemathesis: {sum(CASES.values())} cases over {len(CASES)} operations")


class Credentials:
    """The creator's Bearer token, renewed when a case ends its session (logout, revoke,
    a password change) or disables its member, so later cases still reach the views."""

    def __init__(self, app, account):
        self.app, self.member_id = app, uuid.UUID(account.member_id)
        self.token = account.access_token

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def renew_after(self, response) -> None:
        if response.status_code != 401:
            return
        with self.app.app_context():
            member = db.session.get(Member, self.member_id)
            member.is_active = member.creator.is_active = True
            db.session.commit()
            self.token = auth_services.login_for_api(member, "schemathesis", "127.0.0.1")["access_token"]


@pytest.fixture
def credentials(app, creator):
    return Credentials(app, creator)


@pytest.fixture(autouse=True)
def raised_rate_limits(app):
    """The views, not the rate limiter, should answer the cases."""
    saved = {key: app.config[key] for key in RAISED_LIMITS}
    app.config.update(RAISED_LIMITS)
    yield
    app.config.update(saved)


def _document() -> dict:
    """The OpenAPI document, as the app serves it (read at collection, before the session's app exists)."""
    return create_app({"SERVER_NAME": None}).test_client().get("/api/v1/openapi.json").json


def not_a_server_error_but_a_documented_503(ctx, response, case):
    """5xx never, except a 503 the operation documents (a service it needs is missing)."""
    if response.status_code == 503 and "503" in case.operation.definition.raw.get("responses", {}):
        return None
    return not_a_server_error(ctx, response, case)


schema = schemathesis.openapi.from_dict(
    _document(), config=SchemathesisConfig.from_dict({"seed": SEED, "generation": {"mode": "all"}})
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_5xx_or_strays_from_its_document(app, case, credentials):
    CASES[case.operation.label] += 1
    response = case.call(app=app, headers=credentials.headers)
    credentials.renew_after(response)
    case.validate_response(
        response,
        checks=[not_a_server_error_but_a_documented_503, status_code_conformance, response_schema_conformance],
    )
