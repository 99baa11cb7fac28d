from flask import Blueprint

bp = Blueprint("knowledge", __name__, url_prefix="/knowledge")

from app.knowledge import routes  # noqa: E402,F401
