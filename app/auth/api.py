"""/api/v1/auth: register, login, refresh, me, logout, passwords, revoke."""

from flask import current_app, request
from flask_smorest import Blueprint

from app.api.auth import auth_required, current_caller
from app.api.errors import ApiError
from app.api.schemas import MessageSchema
from app.auth import schemas, services
from app.auth.limits import auth_ip_limit, login_account_limit
from app.auth.passwords import password_problems

bp = Blueprint("auth_api", __name__, url_prefix="/api/v1/auth", description="Accounts, sessions and tokens")


def _client():
    return request.headers.get("User-Agent"), request.remote_addr


def _auth_result(member, tokens: dict) -> dict:
    return {**tokens, "user": member, "creator": member.creator}


@bp.route("/register", methods=["POST"])
@auth_ip_limit
@bp.arguments(schemas.RegisterSchema)
@bp.response(201, schemas.AuthResultSchema)
def register(data):
    """Create a creator account and its owner; returns a first token pair."""
    member = services.register_creator(data["email"], data["password"], data["full_name"], data["company_name"])
    return _auth_result(member, services.login_for_api(member, *_client()))


@bp.route("/login", methods=["POST"])
@auth_ip_limit
@login_account_limit
@bp.arguments(schemas.LoginSchema)
@bp.response(200, schemas.AuthResultSchema)
def login(data):
    """Exchange e-mail and password for an access and a refresh token."""
    member = services.authenticate(data["email"], data["password"])
    if member is None:
        raise ApiError(401, "Wrong e-mail or password.")
    return _auth_result(member, services.login_for_api(member, *_client()))


@bp.route("/refresh", methods=["POST"])
@auth_ip_limit
@bp.arguments(schemas.RefreshSchema)
@bp.response(200, schemas.TokenPairSchema)
def refresh(data):
    """Rotate a refresh token. Reusing an old one revokes the whole session."""
    return services.rotate_refresh_token(data["refresh_token"])


@bp.route("/me", methods=["GET"])
@auth_required()
@bp.response(200, schemas.MeSchema)
def me():
    """The calling account and its creator."""
    caller = current_caller()
    return {
        "user": caller.member,
        "creator": caller.creator,
        "role": caller.role.value,
        "permissions": caller.permissions,
        "auth_method": "api_key" if caller.api_key else "jwt",
    }


@bp.route("/logout", methods=["POST"])
@auth_required()
@bp.response(200, MessageSchema)
def logout():
    """End the caller's session: its refresh tokens and access tokens stop working."""
    caller = current_caller()
    if caller.session is None:
        raise ApiError(400, "API keys have no session; revoke the key instead.")
    services.revoke_session(caller.session, "logout")
    return {"message": "Logged out."}


@bp.route("/tokens/revoke", methods=["POST"])
@auth_required()
@bp.arguments(schemas.RevokeSchema)
@bp.response(200, schemas.RevokeResultSchema)
def revoke(data):
    """Revoke an access or refresh token of this creator (ends its session)."""
    return {"revoked": services.revoke_token(data["token"], current_caller().creator_id)}


@bp.route("/password/validate", methods=["POST"])
@auth_ip_limit
@bp.arguments(schemas.ValidatePasswordSchema)
@bp.response(200, schemas.PasswordStrengthSchema)
def validate_password(data):
    """Check a password against the policy without storing anything."""
    problems = password_problems(data["password"], data["email"])
    return {"valid": not problems, "problems": problems}


@bp.route("/password/change", methods=["POST"])
@auth_required()
@bp.arguments(schemas.ChangePasswordSchema)
@bp.response(200, MessageSchema)
def change_password(data):
    """Change the caller's password; every other session of the account ends."""
    caller = current_caller()
    if caller.member is None:
        raise ApiError(400, "API keys have no password.")
    services.change_password(caller.member, data["current_password"], data["new_password"], caller.session.id)
    return {"message": "Password changed. Other sessions have been signed out."}


@bp.route("/password/reset/request", methods=["POST"])
@auth_ip_limit
@bp.arguments(schemas.ResetRequestSchema)
@bp.response(202, MessageSchema)
def reset_request(data):
    """E-mail a reset link. The answer is the same whether the account exists or not."""
    services.request_password_reset(data["email"])
    current_app.logger.info("password reset requested")
    return {"message": "If an account exists for this e-mail, a reset link is on its way."}


@bp.route("/password/reset/confirm", methods=["POST"])
@auth_ip_limit
@bp.arguments(schemas.ResetConfirmSchema)
@bp.response(200, MessageSchema)
def reset_confirm(data):
    """Set a new password from a reset token; all sessions of the account end."""
    services.confirm_password_reset(data["token"], data["new_password"])
    return {"message": "Password updated. Log in with the new password."}
