"""/api/v1 reporting and monitoring of SMS and WhatsApp: message status, inbound activity, the outbox."""

from flask_smorest import Blueprint

bp = Blueprint(
    "messaging_api", __name__, url_prefix="/api/v1", description="Outbox, message status and inbound activity"
)
