"""Dashboard sessions on Flask-Login, backed by AuthSession rows.

The Flask session holds the AuthSession id; a revoked row (logout, password
change elsewhere) signs the browser out on its next request.
"""

import uuid
from functools import wraps

from flask import abort, request, session
from flask_login import current_user, login_user, logout_user

from app.auth import services
from app.extensions import db, login_manager
from app.models import Member, Role


@login_manager.user_loader
def load_member(member_id: str):
    try:
        member = db.session.get(Member, uuid.UUID(member_id))
    except ValueError:
        return None
    if member is None or not member.is_active:
        return None
    if services.active_session(session.get("auth_session_id"), member.id) is None:
        return None
    return member


def sign_in(member: Member) -> None:
    auth_session = services.start_session(member, "web", request.headers.get("User-Agent"), request.remote_addr)
    db.session.commit()
    session.clear()  # a fresh session id on login (no fixation)
    login_user(member)
    session["auth_session_id"] = str(auth_session.id)


def sign_out() -> None:
    auth_session = current_session()
    if auth_session is not None:
        services.revoke_session(auth_session, "logout")
    logout_user()
    session.clear()


def current_session():
    if not current_user.is_authenticated:
        return None
    return services.active_session(session.get("auth_session_id"), current_user.id)


def roles_required(*roles: Role):
    """Pages for some roles only: others get a plain 403 page."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403, "Your role does not give access to this page.")
            return view(*args, **kwargs)

        return wrapper

    return decorator
