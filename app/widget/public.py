"""The public endpoint the widget script calls: a visitor session and its token."""

from flask import current_app, jsonify, request

from app.api.errors import ApiError
from app.extensions import csrf, db, limiter
from app.models import Channel
from app.widget import public_bp
from app.widget.services import new_visitor_id, origin_allowed, visitor_token


def _cors(response, origin: str | None):
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    return response


@public_bp.route("/widget/<uuid:channel_id>/session", methods=["POST", "OPTIONS"])
@csrf.exempt
@limiter.limit(lambda: current_app.config["RATELIMIT_WIDGET_SESSIONS"])
def visitor_session(channel_id):
    """A short-lived token for the widget's socket; the visitor id is kept across page loads."""
    origin = request.headers.get("Origin")
    channel = db.session.get(Channel, channel_id)
    if channel is None or channel.channel_type != "web" or channel.status != "active":
        raise ApiError(404, "Unknown channel.")
    if not origin_allowed(channel, origin):
        raise ApiError(403, "This website may not use this chat widget.")
    if request.method == "OPTIONS":
        return _cors(current_app.response_class(status=204), origin)
    body = request.get_json(silent=True) or {}
    visitor_id = body.get("visitor_id")
    if not (isinstance(visitor_id, str) and visitor_id.startswith("v_") and 8 <= len(visitor_id) <= 64):
        visitor_id = new_visitor_id()
    ttl = current_app.config["WIDGET_TOKEN_TTL_SECONDS"]
    response = jsonify(
        visitor_id=visitor_id,
        token=visitor_token(channel, visitor_id),
        expires_in=ttl,
        socket_path=f"/widget/ws/{channel.id}",
    )
    return _cors(response, origin)
