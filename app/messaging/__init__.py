from flask import Blueprint

# Dashboard: the outbox and inbound activity.
bp = Blueprint("messaging", __name__, url_prefix="/messaging")
# Public: Twilio's callbacks (signed with the channel's auth token, not by cookie).
webhooks_bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

from app.messaging import routes, webhooks  # noqa: E402,F401
