"""The public endpoint the widget script calls: a visitor session and its token."""

from flask import current_app, jsonify, request

from app.api.errors import ApiError
from app.extensions import csrf, limiter
from app.widget import public_bp
from app.widget.services import active_web_channel, origin_allowed, start_visitor_session


@public_bp.after_request
def _cors(response):
    """Every answer of the session endpoint, refusals included, is readable by the page that asked:
    otherwise the browser hides a 403 behind a network error and the widget retries forever.
    Nothing is given away: a refused origin reads only why it was refused."""
    origin = request.headers.get("Origin")
    if origin and request.endpoint == "widget.visitor_session":
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers.add("Vary", "Origin")
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    return response


@public_bp.route("/widget/<uuid:channel_id>/session", methods=["POST", "OPTIONS"])
@csrf.exempt
@limiter.limit(lambda: current_app.config["RATELIMIT_WIDGET_SESSIONS"])
def visitor_session(channel_id):
    """A short-lived token for the widget's socket, and the credential that keeps the visitor across page loads."""
    if request.method == "OPTIONS":  # a preflight grants nothing; the POST is where origins are checked
        return current_app.response_class(status=204)
    channel = active_web_channel(channel_id)
    if channel is None:
        raise ApiError(404, "Unknown channel.")
    if not origin_allowed(channel, request.headers.get("Origin")):
        raise ApiError(403, "This website may not use this chat widget.")
    body = request.get_json(silent=True) if request.get_data() else {}
    return jsonify(start_visitor_session(channel, body))
