"""Accounts: registration, login, sessions, refresh rotation, passwords.

Pages, API and CLI all call these functions, so each rule lives here once.
"""

import uuid
from datetime import timedelta

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.api.errors import ApiError
from app.auth.tokens import hash_token, issue_access_token, new_secret
from app.extensions import db
from app.mail import send_email
from app.models import AIPersona, AuthSession, Creator, Member, RefreshToken, Role
from app.models.base import utcnow

# Verifying against this keeps login timing the same for unknown e-mails.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    # Werkzeug's default is scrypt: a slow, memory-hard KDF.
    return generate_password_hash(password)


def find_member_by_email(email: str) -> Member | None:
    return db.session.scalar(select(Member).where(Member.email == normalize_email(email)))


def register_creator(email: str, password: str, full_name: str, company_name: str | None = None) -> Member:
    """Create a creator (tenant), its owner account and a default AI persona."""
    email = normalize_email(email)
    if find_member_by_email(email):
        raise ApiError(
            409,
            "An account with this e-mail already exists.",
            details=[{"field": "email", "message": "Already registered."}],
        )
    creator = Creator(full_name=full_name, email=email, company_name=company_name or None)
    owner = Member(
        creator=creator, email=email, full_name=full_name, role=Role.OWNER, password_hash=hash_password(password)
    )
    db.session.add_all([creator, owner, AIPersona(creator=creator)])
    db.session.commit()
    return owner


def add_team_member(creator: Creator, email: str, full_name: str, role: Role, password: str | None = None) -> Member:
    """Add someone to a creator's team; without a password they get an invite link."""
    email = normalize_email(email)
    if find_member_by_email(email):
        raise ApiError(
            409,
            "An account with this e-mail already exists.",
            details=[{"field": "email", "message": "Already registered."}],
        )
    member = Member(
        creator=creator,
        email=email,
        full_name=full_name,
        role=role,
        password_hash=hash_password(password) if password else None,
    )
    db.session.add(member)
    db.session.commit()
    return member


def authenticate(email: str, password: str) -> Member | None:
    member = find_member_by_email(email)
    if member is None or member.password_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(member.password_hash, password):
        return None
    if not member.is_active or not member.creator.is_active:
        return None
    return member


def start_session(member: Member, kind: str, user_agent: str | None = None, ip: str | None = None) -> AuthSession:
    session = AuthSession(
        member=member,
        creator_id=member.creator_id,
        kind=kind,
        user_agent=(user_agent or "")[:300] or None,
        ip_address=ip,
    )
    member.last_login_at = utcnow()
    db.session.add(session)
    db.session.flush()
    return session


def _new_refresh_token(session: AuthSession) -> str:
    token = new_secret("rt")
    ttl = current_app.config["REFRESH_TOKEN_TTL_SECONDS"]
    db.session.add(
        RefreshToken(session_id=session.id, token_hash=hash_token(token), expires_at=utcnow() + timedelta(seconds=ttl))
    )
    return token


def token_pair(member: Member, session: AuthSession) -> dict:
    refresh = _new_refresh_token(session)
    db.session.commit()
    return {
        "access_token": issue_access_token(member, session),
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": current_app.config["ACCESS_TOKEN_TTL_SECONDS"],
    }


def login_for_api(member: Member, user_agent: str | None, ip: str | None) -> dict:
    return token_pair(member, start_session(member, "api", user_agent, ip))


def rotate_refresh_token(token: str) -> dict:
    """Trade a refresh token for a new pair; a reused token revokes its whole family."""
    row = db.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)))
    if row is None or row.expires_at <= utcnow() or not row.session.is_active:
        raise ApiError(401, "The refresh token is invalid or expired.")
    # Claim the token atomically so two concurrent refreshes cannot both win.
    claimed = db.session.execute(
        update(RefreshToken).where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None)).values(used_at=utcnow())
    ).rowcount
    if not claimed:
        revoke_session(row.session, "refresh_token_reuse")
        current_app.logger.warning("refresh token reuse; session revoked", extra={"session_id": str(row.session_id)})
        raise ApiError(401, "This refresh token was already used; the session has been revoked.")
    row.session.last_used_at = utcnow()
    member = row.session.member
    if not member.is_active:
        raise ApiError(401, "The account is disabled.")
    return token_pair(member, row.session)


def revoke_session(session: AuthSession, reason: str) -> None:
    if session.revoked_at is None:
        session.revoked_at = utcnow()
        session.revoked_reason = reason
    db.session.commit()


def revoke_other_sessions(member: Member, keep_session_id: uuid.UUID | None, reason: str) -> int:
    query = update(AuthSession).where(AuthSession.member_id == member.id, AuthSession.revoked_at.is_(None))
    if keep_session_id is not None:
        query = query.where(AuthSession.id != keep_session_id)
    count = db.session.execute(query.values(revoked_at=utcnow(), revoked_reason=reason)).rowcount
    db.session.commit()
    return count


def active_session(session_id, member_id) -> AuthSession | None:
    """The session if it exists, belongs to the member and is not revoked."""
    try:
        session_uuid = uuid.UUID(str(session_id))
    except ValueError:
        return None
    session = db.session.get(AuthSession, session_uuid)
    if session is None or session.member_id != member_id or not session.is_active:
        return None
    return session


def revoke_token(token: str, caller_creator_id) -> bool:
    """Revoke a refresh token or an access token (its session). Unknown tokens are a no-op."""
    from app.auth.tokens import InvalidToken, decode_access_token

    row = db.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)))
    session = row.session if row else None
    if session is None:
        try:
            claims = decode_access_token(token)
            session = db.session.get(AuthSession, uuid.UUID(claims["sid"]))
        except (InvalidToken, ValueError):
            session = None
    if session is None or session.creator_id != caller_creator_id:
        return False
    revoke_session(session, "revoked")
    return True


def set_password(member: Member, new_password: str, keep_session_id: uuid.UUID | None, reason: str) -> None:
    """Set a new password and end every other session of the member."""
    member.password_hash = hash_password(new_password)
    member.password_changed_at = utcnow()
    db.session.commit()
    revoke_other_sessions(member, keep_session_id, reason)


def change_password(member: Member, current_password: str, new_password: str, keep_session_id) -> None:
    if not check_password_hash(member.password_hash or _DUMMY_HASH, current_password):
        raise ApiError(
            422, "The current password is wrong.", details=[{"field": "current_password", "message": "Wrong password."}]
        )
    set_password(member, new_password, keep_session_id, "password_changed")


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def password_reset_token(member: Member) -> str:
    # Bound to the password's change time, so a used or outdated link stops working.
    return _reset_serializer().dumps({"m": str(member.id), "t": member.password_changed_at.timestamp()})


def password_reset_url(member: Member) -> str:
    token = password_reset_token(member)
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/") + url_for("auth.reset_password", token=token)
    return url_for("auth.reset_password", token=token, _external=True)


def request_password_reset(email: str) -> None:
    """E-mail a reset link if the account exists; the caller never learns which."""
    member = find_member_by_email(email)
    if member is None or not member.is_active:
        return
    send_email(
        member.email,
        "Reset your Creator Hub password",
        f"Hello {member.full_name},\n\nSet a new password here (valid for one hour):\n"
        f"{password_reset_url(member)}\n\nIf you did not ask for this, ignore this e-mail.",
        creator_id=member.creator_id,
    )


def member_from_reset_token(token: str) -> Member | None:
    max_age = current_app.config["PASSWORD_RESET_TTL_SECONDS"]
    try:
        data = _reset_serializer().loads(token, max_age=max_age)
        member = db.session.get(Member, uuid.UUID(data["m"]))
    except (BadSignature, SignatureExpired, ValueError, KeyError, TypeError):
        return None
    if member is None or member.password_changed_at.timestamp() != data["t"]:
        return None
    return member


def confirm_password_reset(token: str, new_password: str) -> Member:
    member = member_from_reset_token(token)
    if member is None:
        raise ApiError(
            422,
            "The reset link is invalid or has expired.",
            details=[{"field": "token", "message": "Invalid or expired."}],
        )
    set_password(member, new_password, None, "password_reset")
    return member
