"""Serving over HTTP: the request-line limit, and gunicorn's worker for `wsgi:app`.

The API answers JSON always, even to a URL too long to serve. The app refuses a
request line over MAX_REQUEST_LINE_BYTES itself, in the error envelope. gunicorn
refuses what it will not parse before the app sees it, with an HTML page, and
its request-line limit tops out at 8190 bytes (larger values are clamped; 0,
unlimited, would let a client stream an endless line into memory), so its
worker here writes those refusals in the same envelope.

The worker also starts the embedded RQ worker (no REDIS_URL) once the app is
loaded: only a serving process runs jobs, never `flask db upgrade` or a shell.
"""

import json
import uuid
from urllib.parse import quote

from flask import current_app, request
from gunicorn import util
from gunicorn.http import errors
from gunicorn.workers.gthread import ThreadWorker

from app.api.errors import ApiError
from app.models.base import utcnow

URI_TOO_LONG = "URI_TOO_LONG"


def request_line_length(environ) -> int:
    """The length of `METHOD target HTTP/x.y` as the client sent it (gunicorn's measure)."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if target is None:  # a server that keeps no raw target: rebuild it
        query = environ.get("QUERY_STRING")
        target = quote(environ.get("PATH_INFO", "")) + (f"?{query}" if query else "")
    return len(environ.get("REQUEST_METHOD", "")) + len(target) + len(environ.get("SERVER_PROTOCOL", "")) + 2


def init_app(app):
    @app.before_request
    def refuse_overlong_request_line():
        limit = current_app.config["MAX_REQUEST_LINE_BYTES"]
        if limit and request_line_length(request.environ) > limit:
            raise ApiError(414, f"The request URL is too long (over {limit} bytes).", URI_TOO_LONG)


# gunicorn's refusals of what it cannot parse: (status, reason, code, message).
_REFUSALS = (
    (errors.LimitRequestLine, 414, "URI Too Long", URI_TOO_LONG, "The request URL is too long."),
    (
        errors.LimitRequestHeaders,
        431,
        "Request Header Fields Too Large",
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
        "The request headers are too large.",
    ),
    (
        (
            errors.InvalidRequestLine,
            errors.InvalidRequestMethod,
            errors.InvalidHTTPVersion,
            errors.InvalidHeader,
            errors.InvalidHeaderName,
            errors.ObsoleteFolding,
        ),
        400,
        "Bad Request",
        "BAD_REQUEST",
        "The request is not valid HTTP.",
    ),
)


def refusal_response(exc: Exception) -> bytes | None:
    """The raw HTTP answer to a request gunicorn refused, in the error envelope; None for other errors."""
    if isinstance(exc, (errors.InvalidResponseHeader, errors.InvalidResponseHeaderName)):
        return None  # the app's own fault: gunicorn's 500
    refusal = next((r for r in _REFUSALS if isinstance(exc, r[0])), None)
    if refusal is None:
        return None
    _kinds, status, reason, code, message = refusal
    request_id = str(uuid.uuid4())
    timestamp = utcnow().isoformat().replace("+00:00", "Z")
    body = json.dumps(
        {"error": {"code": code, "message": message, "details": {}, "request_id": request_id, "timestamp": timestamp}}
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-Request-ID: {request_id}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class WebWorker(ThreadWorker):
    """gunicorn's gthread worker, answering its own refusals in JSON and starting the embedded jobs."""

    def load_wsgi(self):
        super().load_wsgi()
        from app.jobs import start_embedded_worker_if_needed

        if hasattr(self.wsgi, "extensions"):  # the Flask app (not gunicorn's error app after a reload)
            start_embedded_worker_if_needed(self.wsgi)

    def handle_error(self, req, client, addr, exc):
        answer = refusal_response(exc)
        if answer is None:
            return super().handle_error(req, client, addr, exc)
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        try:
            util.write_nonblock(client, answer)
        except OSError:  # the client is gone
            pass
