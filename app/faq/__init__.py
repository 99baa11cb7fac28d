from flask import Blueprint

# Dashboard: FAQ entries and the response cache.
bp = Blueprint("faq", __name__, url_prefix="/faq")

from app.faq import routes  # noqa: E402,F401
