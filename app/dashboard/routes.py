"""The dashboard home and the pages of domains that are still being built."""

from flask import abort, render_template
from flask_login import current_user, login_required

from app.dashboard import bp
from app.dashboard.navigation import SECTIONS, SECTIONS_BY_KEY, sections_for
from app.dashboard.services import workspace_overview


@bp.before_request
@login_required
def require_login():
    pass


@bp.route("/")
def home():
    return render_template(
        "dashboard/home.html",
        overview=workspace_overview(current_user.creator),
        sections=[s for s in sections_for(current_user.role) if s.key != "home"],
    )


def _coming_soon(key: str):
    section = SECTIONS_BY_KEY[key]
    if current_user.role not in section.roles:
        abort(403, "Your role does not give access to this page.")
    return render_template("dashboard/coming_soon.html", section=section)


def _register_coming_soon_pages():
    """One honest placeholder per section still being built (those with a `coming` list)."""
    for section in SECTIONS:
        if section.coming:
            bp.add_url_rule(
                f"/{section.key}", endpoint=section.key, view_func=lambda key=section.key: _coming_soon(key)
            )


_register_coming_soon_pages()
