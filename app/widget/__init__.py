from flask import Blueprint

# Public: the visitor session endpoint and the widget's WebSocket.
public_bp = Blueprint("widget", __name__)
# Dashboard: the creator's channel pages.
bp = Blueprint("channels", __name__, url_prefix="/channels")

from app.widget import public, routes, socket  # noqa: E402,F401
