"""Knowledge bases, their documents, the original files and the chunks."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import IdMixin, JSONType, TenantMixin, TimestampMixin, UTCDateTime


class DocumentStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class KnowledgeBase(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """A named collection of documents with its chunking and embedding settings."""

    __tablename__ = "knowledge_bases"
    __table_args__ = (UniqueConstraint("creator_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    chunk_size: Mapped[int] = mapped_column(Integer, default=1000)
    chunk_overlap: Mapped[int] = mapped_column(Integer, default=200)
    embedding_model: Mapped[str] = mapped_column(String(100))
    # Bumped whenever chunking or embedding settings change: documents indexed
    # under an older version are re-indexed.
    settings_version: Mapped[int] = mapped_column(Integer, default=1)
    document_count: Mapped[int] = mapped_column(Integer, default=0)
    total_size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)

    documents: Mapped[list["Document"]] = relationship(back_populates="knowledge_base", passive_deletes=True)

    @property
    def settings(self) -> dict:
        return {
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
            "embedding_model": self.embedding_model,
        }


class Document(IdMixin, TenantMixin, TimestampMixin, db.Model):
    """One uploaded file, pasted text or imported URL, and its processing state."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("knowledge_base_id", "checksum", name="uq_documents_kb_checksum"),
        Index("ix_documents_kb_status", "knowledge_base_id", "processing_status"),
    )

    knowledge_base_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str | None] = mapped_column(String(255))
    file_type: Mapped[str | None] = mapped_column(String(10))  # pdf, docx, html, md, txt
    file_size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    checksum: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the bytes
    source: Mapped[str] = mapped_column(String(10))  # upload, text, url
    source_url: Mapped[str | None] = mapped_column(String(2000))
    processing_status: Mapped[DocumentStatus] = mapped_column(String(12), default=DocumentStatus.PENDING)
    error_message: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict] = mapped_column("metadata", JSONType, default=dict)
    content: Mapped[str | None] = mapped_column(Text)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    embedding_model: Mapped[str | None] = mapped_column(String(100))
    indexed_settings_version: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processing_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    knowledge_base: Mapped[KnowledgeBase] = relationship(back_populates="documents")


class DocumentFile(db.Model):
    """The original bytes, kept in the database so any worker can (re-)ingest them."""

    __tablename__ = "document_files"

    document_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Chunk(TenantMixin, db.Model):
    """A passage of a document: its text is searched by keyword here, its vector in Chroma.

    The id is derived from (document, position), so re-ingesting replaces
    chunks and vectors instead of duplicating them.
    """

    __tablename__ = "chunks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    knowledge_base_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True
    )
    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    chunk_index: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    section: Mapped[str] = mapped_column(String(500), default="")
    page: Mapped[int | None] = mapped_column(Integer)
    char_count: Mapped[int] = mapped_column(Integer, default=0)

    document: Mapped[Document] = relationship()

    @staticmethod
    def stable_id(document_id: uuid.UUID, index: int) -> uuid.UUID:
        return uuid.uuid5(document_id, f"chunk-{index}")
