"""The audience: how one person is reached on several channels, their consent
history, segments of the audience, and bulk imports."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import IdMixin, JSONType, TenantMixin, TimestampMixin, UTCDateTime, utcnow


class ConsentState:
    """event-stream-engine's states, plus PENDING for people who never said either way."""

    PENDING = "PENDING"  # may be answered when they write; never messaged first
    OPT_IN = "OPT_IN"  # may be messaged first (campaigns, check-ins, program steps)
    OPT_OUT = "OPT_OUT"  # opted out some other way (the creator, an import, Twilio error 21610)
    STOP = "STOP"  # texted STOP: nothing is sent until they text START
    ALL = (PENDING, OPT_IN, OPT_OUT, STOP)


class EndUserIdentity(IdMixin, TenantMixin, db.Model):
    """One address a person is known by (web visitor id, phone, API id).

    Linking a widget visitor and an SMS number into one person moves the
    identity to the same end user; inbound traffic is matched through here.
    """

    __tablename__ = "end_user_identities"
    __table_args__ = (UniqueConstraint("creator_id", "channel", "external_id", name="uq_identities_channel_external"),)

    end_user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("end_users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # web, api, sms, whatsapp
    external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentEvent(IdMixin, TenantMixin, db.Model):
    """Every change of a user's consent, with where it came from: the history shown and exported."""

    __tablename__ = "consent_events"

    end_user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("end_users.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    previous_state: Mapped[str | None] = mapped_column(String(20))
    # keyword (STOP/START by text), api, dashboard, import, twilio_21610
    source: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str | None] = mapped_column(String(500))  # e.g. the keyword or the message SID
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Tag(IdMixin, TenantMixin, db.Model):
    """A label on a user; its own rows so segments filter on it with an indexed EXISTS."""

    __tablename__ = "end_user_tags"
    __table_args__ = (UniqueConstraint("end_user_id", "tag", name="uq_end_user_tags"),)

    end_user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("end_users.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(60), index=True)


class Segment(IdMixin, TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "segments"

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    # {"operator": "AND"|"OR", "conditions": [condition | group]}; a condition is
    # {"attribute", "operator", "value"} as in event-stream-engine-api "Segments".
    filter_criteria: Mapped[dict] = mapped_column(JSONType, default=dict)
    estimated_audience_size: Mapped[int | None] = mapped_column(Integer)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserImport(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A bulk CSV/JSON upload, processed by a job, with its report."""

    __tablename__ = "user_imports"

    filename: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(10))  # csv, json
    data: Mapped[bytes] = mapped_column(LargeBinary)  # the upload, so any worker can process it
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, processing, completed, failed
    total_rows: Mapped[int | None] = mapped_column(Integer)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list] = mapped_column(JSONType, default=list)  # [{"row", "field", "message"}], the first 1000
    failure: Mapped[str | None] = mapped_column(String(500))  # why the whole file was refused
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
