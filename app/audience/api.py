"""/api/v1/users and /api/v1/segments: the audience for API consumers."""

from flask_smorest import Blueprint

bp = Blueprint("audience_api", __name__, url_prefix="/api/v1", description="End users, consent, imports and segments")
