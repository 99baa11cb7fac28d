"""FAQ entries that answer instantly, and the cache of generated answers."""

from datetime import datetime

from sqlalchemy import Float, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import IdMixin, JSONType, TenantMixin, TimestampMixin, UTCDateTime


class FaqStatus:
    PUBLISHED = "published"  # answers visitors
    DRAFT = "draft"  # suggested from conversations, waiting for the creator's review


class FaqEntry(IdMixin, TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "faq_entries"

    question: Mapped[str] = mapped_column(String(500))
    answer: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(100))
    question_variants: Mapped[list] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(20), default=FaqStatus.PUBLISHED)
    source: Mapped[str] = mapped_column(String(20), default="manual")  # manual, extracted
    frequency: Mapped[int | None] = mapped_column(Integer)  # how often it was asked, when extracted
    confidence: Mapped[float | None] = mapped_column(Float)  # how alike the extracted phrasings were
    hits: Mapped[int] = mapped_column(Integer, default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The question and its variants embedded with the local model: float32 rows, unit length.
    embeddings: Mapped[bytes | None] = mapped_column(LargeBinary)


class CachedResponse(IdMixin, TenantMixin, db.Model):
    """A generated answer to a question asked without prior context, reused for the same question."""

    __tablename__ = "response_cache"
    __table_args__ = (UniqueConstraint("creator_id", "query_key", name="uq_response_cache_query"),)

    query_key: Mapped[str] = mapped_column(String(64))  # sha256 of the normalized question
    query: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    answer_mode: Mapped[str] = mapped_column(String(20))
    sources: Mapped[list] = mapped_column(JSONType, default=list)
    confidence: Mapped[float | None] = mapped_column(Float)
    model: Mapped[str | None] = mapped_column(String(100))
    # What the answer was made from (documents and persona); a different version is a miss.
    knowledge_version: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(20), default="conversation")  # conversation, warm
    hits: Mapped[int] = mapped_column(Integer, default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
