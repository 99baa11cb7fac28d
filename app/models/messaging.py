"""SMS and WhatsApp through Twilio: which number belongs to which channel,
every inbound message once, and the outbox every outbound message goes through."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import IdMixin, TenantMixin, TimestampMixin, UTCDateTime, utcnow


class ChannelAddress(IdMixin, TenantMixin, db.Model):
    """A Twilio number of a channel ("+1555…" for SMS, "whatsapp:+1555…"): inbound is routed by it.

    An address belongs to one channel of one creator across the whole installation.
    """

    __tablename__ = "channel_addresses"
    __table_args__ = (UniqueConstraint("address", name="uq_channel_addresses_address"),)

    channel_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(40))


class InboundEvent(IdMixin, TenantMixin, db.Model):
    """One inbound Twilio message. The unique MessageSid makes a retried webhook take effect once."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("message_sid", name="uq_inbound_events_sid"),
        Index("ix_inbound_events_creator_received", "creator_id", "received_at"),
    )

    channel_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("channels.id", ondelete="CASCADE"))
    message_sid: Mapped[str] = mapped_column(String(64))
    from_address: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text, default="")
    num_media: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(20), default="message")  # message, stop, start, help
    end_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("end_users.id", ondelete="SET NULL"))
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("conversations.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxStatus:
    """Where an outbound message is. Twilio's statuses only ever move it forward (see RANK)."""

    QUEUED = "queued"  # written with its conversation, waiting for the outbound job
    SENDING = "sending"  # a worker claimed it and is calling Twilio; a crash here is reconciled, not resent
    SENT = "sent"  # Twilio accepted it (has a SID)
    DELIVERED = "delivered"
    READ = "read"  # WhatsApp
    UNDELIVERED = "undelivered"
    FAILED = "failed"  # with error_code / error_message
    BLOCKED = "blocked"  # consent did not allow it at send time
    NOT_SENT = "not_sent"  # no Twilio credentials (the embedded default): kept visible, never dropped
    FINAL = (DELIVERED, READ, UNDELIVERED, FAILED, BLOCKED, NOT_SENT)


class OutboundMessage(IdMixin, TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("provider_sid", name="uq_outbound_messages_sid"),
        Index("ix_outbound_messages_creator_status", "creator_id", "status"),
        Index("ix_outbound_messages_due", "status", "next_attempt_at"),
    )

    channel_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("channels.id", ondelete="SET NULL"))
    end_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("end_users.id", ondelete="SET NULL"))
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("conversations.id", ondelete="SET NULL"))
    message_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("messages.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(20))  # ai_reply, agent_reply, keyword_reply, campaign, program
    to_address: Mapped[str] = mapped_column(String(40))
    from_address: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.QUEUED)
    provider_sid: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(20))
    error_message: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
