"""Coaching programs: their editable draft, immutable published versions,
enrollments that run through a version step by step, and badges."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import IdMixin, JSONType, TenantMixin, TimestampMixin, UTCDateTime, utcnow


class ProgramStatus:
    DRAFT = "draft"  # never published: nobody can enroll
    PUBLISHED = "published"  # its latest version takes enrollments
    ARCHIVED = "archived"  # no new enrollments; running ones finish on their version
    ALL = (DRAFT, PUBLISHED, ARCHIVED)


class Program(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A program and its working draft. What users run is a ProgramVersion, never the draft."""

    __tablename__ = "programs"

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=ProgramStatus.DRAFT)
    # The flow being edited: {"nodes": [...], "edges": [...]} (app/programs/flow.py).
    flow_definition: Mapped[dict] = mapped_column(JSONType, default=dict)
    # auto_enroll, enroll_keyword, widget_enroll, completion_badge, quiet_hours (services.clean_settings)
    settings: Mapped[dict] = mapped_column(JSONType, default=dict)
    # The latest published version (0 before the first publish); the draft becomes version + 1.
    version: Mapped[int] = mapped_column(Integer, default=0)
    # Not a foreign key: programs and versions would reference each other; versions go with their program.
    current_version_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    has_unpublished_changes: Mapped[bool] = mapped_column(db.Boolean, default=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProgramVersion(IdMixin, TenantMixin, db.Model):
    """A published flow, frozen: enrollments run on it until they finish. Never updated."""

    __tablename__ = "program_versions"
    __table_args__ = (UniqueConstraint("program_id", "number", name="uq_program_versions_number"),)

    program_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    flow_definition: Mapped[dict] = mapped_column(JSONType)
    settings: Mapped[dict] = mapped_column(JSONType, default=dict)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("members.id", ondelete="SET NULL"))


class EnrollmentStatus:
    ACTIVE = "active"
    COMPLETED = "completed"
    EXITED = "exited"  # unenrolled by the creator, or the flow could not go on (see exit_reason)
    ALL = (ACTIVE, COMPLETED, EXITED)


class Enrollment(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """One user going through one program version.

    `step_seq` counts the steps taken: a step job carries the number it expects and
    claims it with `UPDATE … WHERE step_seq = n`, so a step runs once however many
    workers see it (app/programs/engine.py).
    """

    __tablename__ = "enrollments"
    __table_args__ = (
        # One active enrollment per user and program: re-enrolling is a 409, even when two requests race.
        Index(
            "uq_enrollments_active",
            "program_id",
            "end_user_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_enrollments_due", "status", "due_at"),
        Index("ix_enrollments_program_status", "program_id", "status"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("programs.id", ondelete="CASCADE"))
    version_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("program_versions.id", ondelete="CASCADE"))
    end_user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("end_users.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("conversations.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(20))  # web, sms, whatsapp, api: where its messages go
    channel_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("channels.id", ondelete="SET NULL"))
    enrolled_via: Mapped[str] = mapped_column(String(20))  # dashboard, api, widget, keyword, auto
    status: Mapped[str] = mapped_column(String(20), default=EnrollmentStatus.ACTIVE)
    current_node_id: Mapped[str | None] = mapped_column(String(64))
    # ready (a job runs current_node at due_at), answer (waits for the user's reply), none (finished)
    waiting_for: Mapped[str] = mapped_column(String(10), default="ready")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    step_seq: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[dict] = mapped_column(JSONType, default=dict)  # {node_id: answer text}
    progress: Mapped[float] = mapped_column(db.Float, default=0.0)
    exit_reason: Mapped[str | None] = mapped_column(String(300))
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EnrollmentStep(IdMixin, TenantMixin, db.Model):
    """The log of every step an enrollment took, one row per step number: progress and drop-off read it."""

    __tablename__ = "enrollment_steps"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "seq", name="uq_enrollment_steps_seq"),
        Index("ix_enrollment_steps_program_node", "program_id", "node_id"),
    )

    enrollment_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("enrollments.id", ondelete="CASCADE"))
    program_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("programs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[str] = mapped_column(String(64))
    node_type: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))  # done, waiting, answered, deferred, blocked, failed
    detail: Mapped[str | None] = mapped_column(String(500))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    executed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Badge(IdMixin, TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "badges"
    __table_args__ = (UniqueConstraint("creator_id", "name", name="uq_badges_name"),)

    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(String(300))
    icon: Mapped[str] = mapped_column(String(16), default="🏅")


class UserBadge(IdMixin, TenantMixin, db.Model):
    """A badge a user earned; each badge once per user."""

    __tablename__ = "user_badges"
    __table_args__ = (UniqueConstraint("end_user_id", "badge_id", name="uq_user_badges"),)

    end_user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("end_users.id", ondelete="CASCADE"), index=True)
    badge_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("badges.id", ondelete="CASCADE"))
    program_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("programs.id", ondelete="SET NULL"))
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("enrollments.id", ondelete="SET NULL"))
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
