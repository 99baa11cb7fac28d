"""The one error envelope, for every failure on /api and /webhooks.

{"error": {"code", "message", "details", "request_id", "timestamp"}}
Pages get an HTML error page instead; neither ever shows a traceback.
"""

from flask import current_app, g, jsonify, render_template, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db
from app.models.base import utcnow

# HTTP status -> the code of creator-hub-api "Common Error Codes".
CODES = {
    400: "BAD_REQUEST",
    401: "AUTHENTICATION_REQUIRED",
    403: "INSUFFICIENT_PERMISSIONS",
    404: "RESOURCE_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

MESSAGES = {
    401: "Authentication is required.",
    403: "You do not have permission to do this.",
    404: "The requested resource was not found.",
    405: "This method is not allowed on this resource.",
    413: "The request body is too large.",
    422: "The request contains invalid data.",
    429: "Too many requests. Slow down and retry later.",
    500: "An unexpected error occurred.",
}


class ApiError(HTTPException):
    """Raise from services or views to answer with a specific error code."""

    def __init__(self, status: int, message: str, code: str | None = None, details=None):
        super().__init__(description=message)
        self.code = status
        self.error_code = code or CODES.get(status, "ERROR")
        self.details = details


def not_found(what: str = "Resource") -> ApiError:
    return ApiError(404, f"{what} not found.")


def error_body(status: int, message: str, code: str | None = None, details=None) -> dict:
    return {
        "error": {
            "code": code or CODES.get(status, "ERROR"),
            "message": message,
            "details": details if details is not None else {},
            "request_id": g.get("request_id"),
            "timestamp": utcnow().isoformat().replace("+00:00", "Z"),
        }
    }


def validation_details(messages) -> list[dict]:
    """Flatten webargs/marshmallow messages into [{"field", "message"}]."""
    details = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + [str(key)])
        elif isinstance(node, list) and node and all(isinstance(m, str) for m in node):
            for message in node:
                details.append({"field": ".".join(path) or None, "message": message})
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, path + [str(index)])
        else:
            details.append({"field": ".".join(path) or None, "message": str(node)})

    # webargs nests errors under the location ("json", "query", ...): drop it.
    if isinstance(messages, dict) and set(messages) <= {
        "json",
        "query",
        "form",
        "files",
        "headers",
        "view_args",
        "path",
    }:
        for location_errors in messages.values():
            walk(location_errors, [])
    else:
        walk(messages, [])
    return details


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/", "/widget/", "/health", "/ready"))


def http_error_response(error: HTTPException):
    status = error.code or 500
    if isinstance(error, ApiError):
        body = error_body(status, error.description, error.error_code, error.details)
        return jsonify(body), status
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    details = None
    message = MESSAGES.get(status) or error.description
    if "messages" in data:  # webargs: invalid JSON (400) or validation errors (422)
        if status == 400:
            message = "The request body is not valid JSON."
        else:
            status = 422
        details = validation_details(data["messages"])
    elif status == 429:
        message = f"Rate limit exceeded ({error.description}). Retry later."
    # Keep headers the exception carries (Allow on 405), not its HTML content type.
    headers.update((k, v) for k, v in error.get_headers() if k.lower() != "content-type")
    response = jsonify(error_body(status, message, details=details))
    response.status_code = status
    response.headers.update(headers)
    return response


def handle_http_exception(error: HTTPException):
    if wants_json():
        return http_error_response(error)
    if error.code == 429:
        return render_template(
            "errors/error.html", status=429, message="Too many attempts. Please wait a minute and try again."
        ), 429
    return render_template("errors/error.html", status=error.code, message=error.description), error.code


def handle_unexpected_exception(error: Exception):
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    current_app.logger.exception("unhandled exception")
    if wants_json():
        return jsonify(error_body(500, MESSAGES[500])), 500
    return render_template("errors/error.html", status=500, message=MESSAGES[500]), 500


def handle_vanished_row(error: Exception):
    """Another request deleted a row this one was changing or re-reading: it is gone, as if the
    delete had come first (no version columns are used, so nothing else raises these)."""
    db.session.rollback()
    current_app.logger.info("row deleted by a concurrent request", extra={"error": str(error)})
    return handle_http_exception(ApiError(404, "The resource was deleted meanwhile."))


def _is_unique_violation(error: IntegrityError) -> bool:
    # psycopg: SQLSTATE 23505; sqlite3: "UNIQUE constraint failed: ..."
    return getattr(error.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(error.orig)


def handle_integrity_error(error: IntegrityError):
    """A unique index refusing a row: the views check first, so another request created the
    same thing between that check and this commit (a 409, as the check would have said).
    Any other integrity error is a bug, and stays a 500."""
    db.session.rollback()
    if not _is_unique_violation(error):
        return handle_unexpected_exception(error)
    current_app.logger.info("unique row created by a concurrent request", extra={"error": str(error.orig)})
    return handle_http_exception(ApiError(409, "Another request created the same thing meanwhile."))


def register_error_handlers(app):
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(StaleDataError, handle_vanished_row)
    app.register_error_handler(ObjectDeletedError, handle_vanished_row)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected_exception)
    app.register_error_handler(InternalServerError, handle_unexpected_exception)
