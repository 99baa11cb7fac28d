"""JWT access tokens and opaque refresh tokens.

Access tokens are short-lived HS256 JWTs with the claims of the
service-endpoints guide; refresh tokens are random strings of which only the
SHA-256 is stored, so a database leak yields nothing usable.
"""

import hashlib
import secrets
import uuid
from datetime import timedelta

import jwt
from flask import current_app

from app.models import AuthSession, Member
from app.models.base import utcnow


class InvalidToken(Exception):
    """The token is malformed, forged, expired or meant for someone else."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret(prefix: str, nbytes: int = 32) -> str:
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def _signing_key() -> str:
    return current_app.config["JWT_SECRET_KEY"] or current_app.config["SECRET_KEY"]


def issue_access_token(member: Member, session: AuthSession) -> str:
    now = utcnow()
    ttl = current_app.config["ACCESS_TOKEN_TTL_SECONDS"]
    claims = {
        "sub": str(member.id),
        "creator_id": str(member.creator_id),
        "tenant_id": str(member.creator_id),
        "role": member.role.value,
        "permissions": member.permissions,
        "subscription_tier": member.creator.subscription_tier,
        "aud": current_app.config["JWT_AUDIENCE"],
        "iss": current_app.config["JWT_ISSUER"],
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": str(uuid.uuid4()),
        "sid": str(session.id),
    }
    return jwt.encode(claims, _signing_key(), algorithm=current_app.config["JWT_ALGORITHM"])


def decode_access_token(token: str) -> dict:
    """Verify signature, algorithm, expiry, audience and issuer; return the claims."""
    try:
        return jwt.decode(
            token,
            _signing_key(),
            # A fixed list: a token that says alg "none" or RS256 is refused.
            algorithms=[current_app.config["JWT_ALGORITHM"]],
            audience=current_app.config["JWT_AUDIENCE"],
            issuer=current_app.config["JWT_ISSUER"],
            options={"require": ["exp", "iat", "sub", "sid", "creator_id"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("The access token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("The access token is invalid.") from exc
