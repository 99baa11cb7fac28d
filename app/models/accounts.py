"""Creators (tenants), their team members, sessions, API keys and AI persona."""

import enum
import uuid
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Enum, Float, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import IdMixin, JSONType, TenantMixin, TimestampMixin, UTCDateTime, utcnow


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    AGENT = "agent"


# What each role may do; the JWT `permissions` claim is derived from this.
ROLE_PERMISSIONS = {
    Role.OWNER: ["read", "write", "admin", "owner"],
    Role.ADMIN: ["read", "write", "admin"],
    Role.AGENT: ["read", "write"],
}


class Creator(IdMixin, TimestampMixin, db.Model):
    """A tenant: one coach or business, with its team, audience and content."""

    __tablename__ = "creators"

    full_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    company_name: Mapped[str | None] = mapped_column(String(120))
    website: Mapped[str | None] = mapped_column(String(500))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    subscription_tier: Mapped[str] = mapped_column(String(20), default="free")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    members: Mapped[list["Member"]] = relationship(back_populates="creator", passive_deletes=True)
    persona: Mapped["AIPersona"] = relationship(back_populates="creator", uselist=False, passive_deletes=True)


class Member(UserMixin, IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A person who logs in to a creator's dashboard: the owner or a team member."""

    __tablename__ = "members"

    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=10))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    creator: Mapped[Creator] = relationship(back_populates="members")

    @property
    def permissions(self) -> list[str]:
        return ROLE_PERMISSIONS[self.role]

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles


class AuthSession(IdMixin, TenantMixin, db.Model):
    """One signed-in session: a dashboard login or an API refresh-token family.

    Revoking it ends the dashboard session, every refresh token of the family
    and every access token minted from it (they carry its id as `sid`).
    """

    __tablename__ = "auth_sessions"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("members.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "web" or "api"
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(50))

    member: Mapped[Member] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class RefreshToken(IdMixin, db.Model):
    """A single-use refresh token; only its SHA-256 is stored."""

    __tablename__ = "refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    session: Mapped[AuthSession] = relationship()


class ApiKey(IdMixin, TenantMixin, db.Model):
    """A server-to-server key. The secret is shown once; only its hash is kept."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=10), default=Role.ADMIN)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by: Mapped[Member | None] = relationship()


class AIPersona(TimestampMixin, db.Model):
    """How the assistant speaks for a creator (omnichannel ai-config)."""

    __tablename__ = "ai_personas"

    creator_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("creators.id", ondelete="CASCADE"), primary_key=True)
    assistant_name: Mapped[str] = mapped_column(String(80), default="Coach")
    custom_prompt: Mapped[str] = mapped_column(Text, default="")
    tone: Mapped[str] = mapped_column(String(30), default="friendly")
    language: Mapped[str] = mapped_column(String(10), default="en")
    prohibited_topics: Mapped[list] = mapped_column(JSONType, default=list)
    fallback_message: Mapped[str] = mapped_column(
        Text, default="I'm not sure about that one. Let me get a human to help you."
    )
    model: Mapped[str] = mapped_column(String(100), default="llama3.2")
    confidence_threshold: Mapped[float] = mapped_column(Float, default=0.35)
    max_response_tokens: Mapped[int] = mapped_column(Integer, default=512)

    creator: Mapped[Creator] = relationship(back_populates="persona")
