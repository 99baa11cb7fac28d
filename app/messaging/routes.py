"""Messaging pages: the outbox with each message's fate, and inbound activity."""

import uuid

from flask import render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select

from app.api.pagination import paginate
from app.extensions import db
from app.messaging import bp, reporting
from app.messaging.schemas import STATUSES
from app.models import Channel

PAGE_SIZE = 50


@bp.before_request
@login_required
def require_login():
    pass  # the whole team sees what was sent and why not


@bp.route("/outbox")
def outbox():
    """Outbound SMS/WhatsApp with filters (status, channel, user), each failure with its error,
    and the last 24 hours of inbound activity."""
    creator_id = current_user.creator_id
    status = request.args.get("status") or None
    status = status if status in STATUSES else None
    channel = request.args.get("channel") or None
    try:
        user_id = uuid.UUID(request.args["user"]) if request.args.get("user") else None
    except ValueError:
        user_id = None
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    filters = {"status": status, "channel": channel, "user_id": user_id}
    items, pagination = paginate(reporting.outbox_query(creator_id, **filters), page, PAGE_SIZE)
    channels = db.session.scalars(
        select(Channel).where(Channel.creator_id == creator_id, Channel.channel_type.in_(["sms", "whatsapp"]))
    ).all()
    return render_template(
        "messaging/outbox.html",
        messages=items,
        pagination=pagination,
        summary=reporting.status_summary(creator_id, **filters),
        inbound=reporting.inbound_activity(creator_id, hours=24, limit=20),
        channels=channels,
        statuses=list(dict.fromkeys(STATUSES)),
        filters={"status": status or "", "channel": channel or "", "user": request.args.get("user", "")},
    )
