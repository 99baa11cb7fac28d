from flask import Blueprint

# Dashboard: the program builder, enrollments and program analytics.
bp = Blueprint("programs", __name__, url_prefix="/programs")

from app.programs import routes  # noqa: E402,F401
