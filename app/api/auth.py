"""Who is calling the API: a Bearer JWT or an X-API-Key, resolved once per request."""

import uuid
from dataclasses import dataclass
from functools import wraps

from flask import g, request
from sqlalchemy import select

from app.api.errors import ApiError
from app.auth.tokens import InvalidToken, decode_access_token, hash_token
from app.extensions import db
from app.models import ApiKey, AuthSession, Creator, Member, Role
from app.models.accounts import ROLE_PERMISSIONS
from app.models.base import utcnow

BEARER = {"bearerAuth": []}
API_KEY = {"apiKeyAuth": []}
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


# Lower rank, fewer rights: a key never acts above its member.
_RANK = {Role.AGENT: 0, Role.ADMIN: 1, Role.OWNER: 2}


@dataclass
class Caller:
    creator: Creator
    role: Role
    member: Member | None = None  # None for API keys
    session: AuthSession | None = None
    api_key: ApiKey | None = None

    @property
    def creator_id(self) -> uuid.UUID:
        return self.creator.id

    @property
    def permissions(self) -> list[str]:
        return ROLE_PERMISSIONS[self.role]

    @property
    def acting_member(self) -> Member | None:
        """The person behind the call: the logged-in member, or the member who owns the key."""
        return self.member or (self.api_key.created_by if self.api_key else None)


def _caller_from_jwt(token: str) -> Caller:
    try:
        claims = decode_access_token(token)
        member_id, session_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
    except (InvalidToken, ValueError) as exc:
        raise ApiError(401, str(exc) if isinstance(exc, InvalidToken) else "The access token is invalid.") from exc
    row = db.session.execute(
        select(Member, AuthSession)
        .join(AuthSession, AuthSession.member_id == Member.id)
        .where(Member.id == member_id, AuthSession.id == session_id)
    ).first()
    if row is None:
        raise ApiError(401, "The access token is invalid.")
    member, session = row
    if not session.is_active:
        raise ApiError(401, "This session has ended. Log in again.")
    if not member.is_active or not member.creator.is_active:
        raise ApiError(401, "The account is disabled.")
    return Caller(creator=member.creator, role=member.role, member=member, session=session)


def _caller_from_api_key(key: str) -> Caller:
    api_key = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_token(key)))
    if api_key is None or api_key.revoked_at is not None:
        raise ApiError(401, "The API key is invalid or revoked.")
    member = api_key.created_by
    # A key lives only as long as its member's access: removed (the FK went NULL) or disabled ends it.
    if member is None or member.creator_id != api_key.creator_id or not member.is_active:
        raise ApiError(401, "The API key's team member no longer has access; create a new key.")
    creator = db.session.get(Creator, api_key.creator_id)
    if not creator.is_active:
        raise ApiError(401, "The account is disabled.")
    now = utcnow()
    # Recorded at most once a minute: a busy integration should not write on every call.
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        api_key.last_used_at = now
        db.session.commit()
    return Caller(creator=creator, role=key_role(api_key, member), api_key=api_key)


def key_role(api_key: ApiKey, member: Member) -> Role:
    """The key's own role, capped by its member's current one (a demoted admin's key acts as an agent)."""
    return min(api_key.role, member.role, key=_RANK.__getitem__)


def identify_caller() -> Caller | None:
    """Resolve the caller from the request headers; cached on `g`.

    Raises ApiError(401) for credentials that are present but bad.
    """
    if "caller" in g:
        return g.caller
    header = request.headers.get("Authorization", "")
    api_key = request.headers.get("X-API-Key")
    caller = None
    if header.lower().startswith("bearer "):
        caller = _caller_from_jwt(header[7:].strip())
    elif api_key:
        caller = _caller_from_api_key(api_key.strip())
    elif header:
        raise ApiError(401, "Use 'Authorization: Bearer <token>' or 'X-API-Key: <key>'.")
    g.caller = caller
    g.creator_id = caller.creator_id if caller else None
    return caller


def current_caller() -> Caller:
    return g.caller


def auth_required(*roles: Role):
    """Require a valid caller, optionally with one of `roles`, and document it."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            caller = identify_caller()
            if caller is None:
                raise ApiError(401, "Authentication is required.")
            if roles and caller.role not in roles:
                raise ApiError(403, f"This needs the {' or '.join(r.value for r in roles)} role.")
            return view(*args, **kwargs)

        # flask-smorest reads `_apidoc`; add security and the auth error responses.
        doc = wrapper.__dict__.setdefault("_apidoc", {}).setdefault("manual_doc", {})
        doc["security"] = [BEARER, API_KEY]
        responses = doc.setdefault("responses", {})
        responses["401"] = "AuthError"
        if roles:
            responses["403"] = "AuthError"
        return wrapper

    return decorator


def rate_limit_key() -> str:
    """Rate-limit bucket: the caller's creator, or the client IP when anonymous."""
    try:
        caller = identify_caller()
    except ApiError:
        caller = None
    if caller is not None:
        return f"creator:{caller.creator_id}"
    return f"ip:{request.remote_addr}"
