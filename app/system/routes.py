"""Liveness and readiness probes."""

from flask import jsonify

from app.api.errors import error_body
from app.extensions import csrf, limiter
from app.system import bp
from app.system.services import readiness


@bp.route("/health")
@limiter.exempt
def health():
    """Liveness: the process answers."""
    return jsonify(status="ok", service="creator-hub")


@bp.route("/ready")
@limiter.exempt
def ready():
    """Readiness: every dependency reported; 503 when a required one is down."""
    is_ready, checks = readiness()
    if is_ready:
        return jsonify(status="ready", checks=checks)
    body = {"status": "not_ready", "checks": checks}
    body |= error_body(503, "A required dependency is unavailable.", details=checks)
    return jsonify(body), 503


csrf.exempt(bp)
