"""RQ jobs of the knowledge domain (queue `ingest`)."""

import hashlib
import logging
import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, or_, select, update

from app.extensions import db
from app.knowledge import chunking, vectors
from app.knowledge.embeddings import EmbeddingError, get_embedder
from app.knowledge.fetch import FetchError, fetch
from app.knowledge.parsing import ParseError, parse_document
from app.knowledge.services import enqueue_ingest, refresh_counts, stale_cutoff
from app.models import Chunk, Document, DocumentFile, DocumentStatus, KnowledgeBase
from app.models.base import utcnow

log = logging.getLogger(__name__)
CONTENT_TYPE_EXTENSIONS = {
    "text/html": "html",
    "application/pdf": "pdf",
    "text/markdown": "md",
    "text/plain": "txt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}


class IngestError(Exception):
    """A reason the document cannot be indexed, shown to the creator."""


@dataclass(frozen=True)
class IndexSettings:
    """The knowledge base's settings as the job read them when it started."""

    kb_id: uuid.UUID
    chunk_size: int
    chunk_overlap: int
    embedding_model: str
    version: int

    @classmethod
    def of(cls, kb: KnowledgeBase) -> "IndexSettings":
        return cls(kb.id, kb.chunk_size, kb.chunk_overlap, kb.embedding_model, kb.settings_version)


def ingest_document(document_id: str) -> str:
    """Parse, chunk, embed and index one document. Safe to run twice or after a crash.

    If the knowledge base's settings change while the job runs, the job does not
    complete the document under the old ones: it puts it back in the queue.
    """
    document = db.session.get(Document, uuid.UUID(document_id))
    if document is None:
        return "deleted"
    if not _claim(document):
        return "skipped"
    settings = IndexSettings.of(db.session.get(KnowledgeBase, document.knowledge_base_id))
    try:
        indexed = _index(document, settings)
    except (IngestError, ParseError, FetchError, EmbeddingError) as error:
        _fail(document, str(error))
        return "failed"
    except Exception:  # the worker must survive anything a document does
        log.exception("ingestion crashed", extra={"document_id": document_id})
        _fail(document, "An internal error stopped processing. Retry; if it fails again, contact support.")
        return "failed"
    if not indexed:
        _requeue(document)
        return "requeued"
    return "completed"


def _claim(document: Document) -> bool:
    """Move pending/failed/stalled -> processing atomically; False if another worker has it
    or it is already indexed under the current settings."""
    current_version = (
        select(KnowledgeBase.settings_version).where(KnowledgeBase.id == Document.knowledge_base_id).scalar_subquery()
    )
    claimed = db.session.execute(
        update(Document)
        .where(
            Document.id == document.id,
            or_(
                Document.processing_status.in_([DocumentStatus.PENDING, DocumentStatus.FAILED]),
                (Document.processing_status == DocumentStatus.PROCESSING)
                & (Document.processing_started_at < stale_cutoff()),
                (Document.processing_status == DocumentStatus.COMPLETED)
                & (Document.indexed_settings_version != current_version),
            ),
        )
        .values(
            processing_status=DocumentStatus.PROCESSING,
            processing_started_at=utcnow(),
            attempts=Document.attempts + 1,
            error_message=None,
        )
    ).rowcount
    db.session.commit()
    db.session.refresh(document)
    return bool(claimed)


def _document_bytes(document: Document) -> tuple[bytes, str]:
    if document.source != "url":
        stored = db.session.get(DocumentFile, document.id)
        if stored is None:
            raise IngestError("The original file is missing; upload it again.")
        return stored.data, document.filename
    page = fetch(
        document.source_url, current_app.config["MAX_CONTENT_LENGTH"], current_app.config["URL_IMPORT_ALLOWED_NETWORKS"]
    )
    _record_fetched(document, page.data)
    extension = CONTENT_TYPE_EXTENSIONS.get(page.content_type.split(";")[0].strip().lower(), "html")
    name = page.url.rstrip("/").rsplit("/", 1)[-1] or "page"
    if "." not in name[-6:]:
        name = f"{name}.{extension}"
    return page.data, name


def _record_fetched(document: Document, data: bytes) -> None:
    checksum = hashlib.sha256(data).hexdigest()
    duplicate = db.session.scalar(
        select(Document).where(
            Document.knowledge_base_id == document.knowledge_base_id,
            Document.checksum == checksum,
            Document.id != document.id,
        )
    )
    if duplicate:
        raise IngestError(f"This page has the same content as {duplicate.title!r}, already in the knowledge base.")
    document.checksum, document.file_size_bytes = checksum, len(data)
    db.session.commit()


def _settings_version(kb_id: uuid.UUID) -> int | None:
    return db.session.scalar(select(KnowledgeBase.settings_version).where(KnowledgeBase.id == kb_id))


def _lock_settings_version(kb_id: uuid.UUID) -> int | None:
    """The KB's settings version, its row locked until this transaction ends. A no-op write
    rather than SELECT ... FOR UPDATE, so that SQLite (which has no FOR UPDATE) takes its
    single write lock as well."""
    return db.session.scalar(
        update(KnowledgeBase)
        .where(KnowledgeBase.id == kb_id)
        .values(settings_version=KnowledgeBase.settings_version)
        .returning(KnowledgeBase.settings_version)
    )


def _index(document: Document, settings: IndexSettings) -> bool:
    """Index the document under `settings`; False (nothing committed) if the KB's settings moved on meanwhile."""
    data, filename = _document_bytes(document)
    parsed = parse_document(data, filename)
    pieces = chunking.chunk_elements(parsed.elements, settings.chunk_size, settings.chunk_overlap)
    if not pieces:
        raise IngestError("No text could be extracted from this document.")
    ids = [Chunk.stable_id(document.id, piece.index) for piece in pieces]
    probes = [
        (chunk_id, piece, n, text)
        for chunk_id, piece in zip(ids, pieces, strict=True)
        for n, text in enumerate(piece.probe_texts())
    ]
    embeddings = get_embedder(settings.embedding_model).embed_documents([text for *_, text in probes])
    if _settings_version(settings.kb_id) != settings.version:
        return False  # do not write vectors of settings already replaced
    # Vectors first (upsert by stable id, then prune what the new version no
    # longer has), then the rows: searches keep working during a re-index, and
    # a crash in between leaves a retryable document, never duplicates.
    vector_ids = [vectors.probe_id(chunk_id, n) for chunk_id, _, n, _ in probes]
    vectors.upsert(
        document.creator_id,
        settings.embedding_model,
        vector_ids,
        embeddings,
        [
            {
                "document_id": str(document.id),
                "knowledge_base_id": str(settings.kb_id),
                "chunk_id": str(chunk_id),
                "chunk_index": piece.index,
            }
            for chunk_id, piece, _, _ in probes
        ],
    )
    vectors.prune_document(document.creator_id, document.id, settings.embedding_model, set(vector_ids))
    # The KB row stays locked until this commits: a settings change made meanwhile waits,
    # then finds the document completed and re-queues it; one made before shows here.
    if _lock_settings_version(settings.kb_id) != settings.version:
        db.session.rollback()
        return False
    db.session.execute(delete(Chunk).where(Chunk.document_id == document.id))
    db.session.add_all(
        Chunk(
            id=chunk_id,
            creator_id=document.creator_id,
            knowledge_base_id=settings.kb_id,
            document_id=document.id,
            chunk_index=piece.index,
            content=piece.text,
            section=" > ".join(piece.section)[:500],
            page=piece.page,
            char_count=piece.char_count,
        )
        for chunk_id, piece in zip(ids, pieces, strict=True)
    )
    document.content = parsed.text
    document.file_type = document.file_type or parsed.file_type
    if document.source == "url" and document.title == document.source_url and parsed.title:
        document.title = parsed.title[:300]
    document.chunk_count = len(pieces)
    document.embedding_model = settings.embedding_model
    document.indexed_settings_version = settings.version
    document.processing_status = DocumentStatus.COMPLETED
    document.processed_at = utcnow()
    db.session.commit()
    refresh_counts(settings.kb_id)
    return True


def _requeue(document: Document) -> None:
    """The settings changed mid-job: index the document again under the current ones."""
    db.session.rollback()
    db.session.execute(
        update(Document)
        .where(Document.id == document.id, Document.processing_status == DocumentStatus.PROCESSING)
        .values(processing_status=DocumentStatus.PENDING)
    )
    db.session.commit()
    enqueue_ingest(document.id)


def _fail(document: Document, reason: str) -> None:
    db.session.rollback()
    db.session.execute(
        update(Document)
        .where(Document.id == document.id)
        .values(processing_status=DocumentStatus.FAILED, error_message=reason[:2000], processed_at=utcnow())
    )
    db.session.commit()
    refresh_counts(document.knowledge_base_id)
