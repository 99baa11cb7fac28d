"""Reporting over the outbox and inbound events: status report, inbound activity, the outbox list."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.models import Channel, InboundEvent, OutboundMessage
from app.models.base import utcnow
from app.models.messaging import OutboxStatus

DELIVERED = (OutboxStatus.DELIVERED, OutboxStatus.READ)
ATTEMPTED = (
    OutboxStatus.SENT,
    OutboxStatus.DELIVERED,
    OutboxStatus.READ,
    OutboxStatus.UNDELIVERED,
    OutboxStatus.FAILED,
)


def outbox_query(
    creator_id: uuid.UUID,
    status: str | None = None,
    channel: str | None = None,
    user_id: uuid.UUID | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
):
    """The creator's outbound messages, newest first; `channel` is a channel id or a type (sms, whatsapp)."""
    query = select(OutboundMessage).where(OutboundMessage.creator_id == creator_id)
    if status:
        query = query.where(OutboundMessage.status == status)
    if channel:
        try:
            query = query.where(OutboundMessage.channel_id == uuid.UUID(str(channel)))
        except ValueError:
            ids = select(Channel.id).where(Channel.creator_id == creator_id, Channel.channel_type == channel)
            query = query.where(OutboundMessage.channel_id.in_(ids))
    if user_id:
        query = query.where(OutboundMessage.end_user_id == user_id)
    if start:
        query = query.where(OutboundMessage.created_at >= start)
    if end:
        query = query.where(OutboundMessage.created_at < end)
    return query.order_by(OutboundMessage.created_at.desc(), OutboundMessage.id)


def status_summary(creator_id: uuid.UUID, **filters) -> dict:
    """Counts per status and the delivery rate (delivered or read / sent to Twilio)."""
    sub = outbox_query(creator_id, **filters).order_by(None).subquery()
    counts = dict(db.session.execute(select(sub.c.status, func.count()).group_by(sub.c.status)).all())
    attempted = sum(counts.get(s, 0) for s in ATTEMPTED)
    delivered = sum(counts.get(s, 0) for s in DELIVERED)
    return {
        "total": sum(counts.values()),
        "by_status": counts,
        "delivered": delivered,
        "failed": counts.get(OutboxStatus.FAILED, 0) + counts.get(OutboxStatus.UNDELIVERED, 0),
        "blocked": counts.get(OutboxStatus.BLOCKED, 0),
        "not_sent": counts.get(OutboxStatus.NOT_SENT, 0),
        "delivery_rate": round(delivered / attempted, 4) if attempted else None,
    }


def inbound_activity(creator_id: uuid.UUID, hours: int = 24, limit: int = 50) -> dict:
    """The last `hours` of inbound messages: a summary (with STOP commands) and the newest `limit`."""
    since = utcnow() - timedelta(hours=hours)
    where = (InboundEvent.creator_id == creator_id) & (InboundEvent.received_at >= since)
    kinds = dict(
        db.session.execute(select(InboundEvent.kind, func.count()).where(where).group_by(InboundEvent.kind)).all()
    )
    senders = db.session.scalar(select(func.count(func.distinct(InboundEvent.from_address))).where(where)) or 0
    events = db.session.scalars(
        select(InboundEvent).where(where).order_by(InboundEvent.received_at.desc()).limit(limit)
    )
    return {
        "hours": hours,
        "summary": {
            "total": sum(kinds.values()),
            "unique_senders": senders,
            "stop_commands": kinds.get("stop", 0),
            "start_commands": kinds.get("start", 0),
            "help_commands": kinds.get("help", 0),
            "messages": kinds.get("message", 0),
        },
        "events": list(events),
    }
