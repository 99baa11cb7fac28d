"""End users, their conversations and messages, and what the assistant remembers."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import IdMixin, JSONType, TenantMixin, TimestampMixin, UTCDateTime, utcnow


class EndUser(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A member of a creator's audience ("users" in the API), on some channel."""

    __tablename__ = "end_users"
    __table_args__ = (
        UniqueConstraint("creator_id", "channel", "external_id", name="uq_end_users_channel_external"),
        Index("ix_end_users_creator_phone", "creator_id", "phone_e164"),
        Index("ix_end_users_creator_consent", "creator_id", "consent_state"),
        Index("ix_end_users_creator_updated", "creator_id", "updated_at"),  # programs.services.known_variables
    )

    external_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))  # web, api, sms, whatsapp
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    profile_data: Mapped[dict] = mapped_column(JSONType, default=dict)
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(10))
    last_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Audience (issue 5): reachable by SMS/WhatsApp at phone_e164 when consent allows.
    phone_e164: Mapped[str | None] = mapped_column(String(16))
    attributes: Mapped[dict] = mapped_column(JSONType, default=dict)  # the creator's own fields (city, tier…)
    consent_state: Mapped[str] = mapped_column(String(20), default="PENDING")  # see app/models/audience.py
    consent_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    engagement_score: Mapped[float] = mapped_column(Float, default=0.0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def label(self) -> str:
        """How the dashboard names the user: their name, else what they are and a short id."""
        if self.display_name:
            return self.display_name
        if self.channel == "web":
            return f"Website visitor …{self.external_id[-6:]}"
        return self.external_id


class ConversationStatus(enum.StrEnum):
    ACTIVE = "active"  # the AI answers
    WAITING = "waiting_for_human"  # escalated: the AI answered with the fallback and a human is asked for
    WITH_AGENT = "with_agent"  # taken over: the AI is paused
    CLOSED = "closed"


class Conversation(IdMixin, TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("creator_id", "end_user_id", "session_id", name="uq_conversations_session"),
        Index("ix_conversations_creator_status", "creator_id", "status"),
    )

    end_user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("end_users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=ConversationStatus.ACTIVE)
    assigned_member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("members.id", ondelete="SET NULL"))
    escalation_reason: Mapped[str | None] = mapped_column(String(200))
    close_reason: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A session reset clears what the assistant considers context; messages stay for the inbox.
    context_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    end_user: Mapped[EndUser] = relationship()


class Message(IdMixin, TenantMixin, db.Model):
    """One turn. AI turns record how they were produced and from which passages."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_created", "conversation_id", "created_at"),)

    conversation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("conversations.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(10))  # user, ai, agent, system
    content: Mapped[str] = mapped_column(Text)
    # How an AI answer was made: llm, extractive, faq, fallback, memory.
    answer_mode: Mapped[str | None] = mapped_column(String(20))
    sources: Mapped[list] = mapped_column(JSONType, default=list)
    confidence: Mapped[float | None] = mapped_column(Float)
    model: Mapped[str | None] = mapped_column(String(100))
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    cached_response: Mapped[bool] = mapped_column(Boolean, default=False)  # served from the response cache
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Memory(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A fact or preference about an end user, learned in conversation or set by the creator."""

    __tablename__ = "memories"
    __table_args__ = (UniqueConstraint("end_user_id", "key", name="uq_memories_user_key"),)

    end_user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("end_users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="fact")  # fact, preference
    key: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20), default="conversation")  # conversation, creator, api
