"""Creator profile, AI persona, API keys and team management."""

import uuid

from sqlalchemy import select, update

from app.api.errors import ApiError
from app.auth import services as auth_services
from app.auth.tokens import hash_token, new_secret
from app.extensions import db
from app.models import AIPersona, ApiKey, Creator, Member, Role
from app.models.base import utcnow
from app.tenancy import get_for_creator

PROFILE_FIELDS = ("full_name", "email", "company_name", "website", "timezone")
PERSONA_FIELDS = (
    "assistant_name",
    "custom_prompt",
    "tone",
    "language",
    "prohibited_topics",
    "fallback_message",
    "model",
    "confidence_threshold",
    "max_response_tokens",
)


def _apply(obj, data: dict, allowed: tuple[str, ...]) -> None:
    for name in allowed:
        if name in data:
            setattr(obj, name, data[name])


def update_profile(creator: Creator, data: dict) -> Creator:
    _apply(creator, data, PROFILE_FIELDS)
    db.session.commit()
    return creator


def persona_for(creator: Creator) -> AIPersona:
    persona = db.session.get(AIPersona, creator.id)
    if persona is None:  # creators made before personas existed
        persona = AIPersona(creator_id=creator.id)
        db.session.add(persona)
        db.session.commit()
    return persona


def update_persona(creator: Creator, data: dict) -> AIPersona:
    persona = persona_for(creator)
    if "prohibited_topics" in data:
        # Trimmed, de-duplicated, order kept: the list is shown back to the creator.
        data["prohibited_topics"] = list(dict.fromkeys(t.strip() for t in data["prohibited_topics"] if t.strip()))
    _apply(persona, data, PERSONA_FIELDS)
    db.session.commit()
    return persona


# --- API keys ---------------------------------------------------------------


def create_api_key(creator: Creator, name: str, role: Role, created_by: Member | None) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the secret, which is never shown again."""
    secret = new_secret("chk", 32)
    key = ApiKey(
        creator_id=creator.id,
        name=name,
        role=role,
        created_by=created_by,
        prefix=secret[:12],
        key_hash=hash_token(secret),
    )
    db.session.add(key)
    db.session.commit()
    return key, secret


def api_keys_query(creator: Creator):
    return select(ApiKey).where(ApiKey.creator_id == creator.id).order_by(ApiKey.created_at.desc())


def list_api_keys(creator: Creator) -> list[ApiKey]:
    return db.session.scalars(api_keys_query(creator)).all()


def revoke_api_key(creator: Creator, key_id: uuid.UUID) -> ApiKey:
    key = get_for_creator(ApiKey, creator.id, key_id, "API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
    return key


# --- Team -------------------------------------------------------------------


def team_query(creator: Creator, role: Role | None = None, search: str | None = None):
    query = select(Member).where(Member.creator_id == creator.id)
    if role:
        query = query.where(Member.role == role)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(Member.email.ilike(pattern) | Member.full_name.ilike(pattern))
    return query.order_by(Member.created_at)


def list_team(creator: Creator) -> list[Member]:
    return db.session.scalars(team_query(creator)).all()


def get_member(creator: Creator, member_id: uuid.UUID) -> Member:
    return get_for_creator(Member, creator.id, member_id, "Team member")


def _check_can_manage(actor_role: Role, target_role: Role) -> None:
    """Owners manage everyone; admins manage agents only; nobody makes an owner."""
    if target_role == Role.OWNER:
        raise ApiError(403, "The owner cannot be added, changed or removed here.")
    if target_role == Role.ADMIN and actor_role != Role.OWNER:
        raise ApiError(403, "Only the owner can add, change or remove admins.")


def add_member(creator: Creator, actor_role: Role, data: dict) -> Member:
    role = Role(data["role"])
    _check_can_manage(actor_role, role)
    return auth_services.add_team_member(creator, data["email"], data["full_name"], role, data.get("password"))


def update_member(creator: Creator, actor_role: Role, member_id: uuid.UUID, data: dict) -> Member:
    member = get_member(creator, member_id)
    _check_can_manage(actor_role, member.role)
    if "role" in data:
        _check_can_manage(actor_role, Role(data["role"]))
        member.role = Role(data["role"])
    if "full_name" in data:
        member.full_name = data["full_name"]
    if "is_active" in data:
        member.is_active = data["is_active"]
    if not member.is_active:
        _revoke_member_keys(member)
    db.session.commit()
    if not member.is_active or "role" in data:
        # A changed role or a disabled account takes effect now, not in 15 minutes.
        # (Keys need nothing on a role change: they act with the member's current role.)
        auth_services.revoke_other_sessions(member, None, "membership_changed")
    return member


def remove_member(creator: Creator, actor_role: Role, member_id: uuid.UUID) -> None:
    """Remove a member; their API keys die with them (kept, revoked, for the key list)."""
    member = get_member(creator, member_id)
    _check_can_manage(actor_role, member.role)
    _revoke_member_keys(member)
    db.session.delete(member)
    db.session.commit()


def _revoke_member_keys(member: Member) -> None:
    db.session.execute(
        update(ApiKey)
        .where(ApiKey.created_by_id == member.id, ApiKey.creator_id == member.creator_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
