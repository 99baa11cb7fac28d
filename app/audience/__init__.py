from flask import Blueprint

# Dashboard: the audience (end users, imports, segments).
bp = Blueprint("audience", __name__, url_prefix="/audience")

from app.audience import routes  # noqa: E402,F401
