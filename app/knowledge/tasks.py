"""RQ jobs of the knowledge domain (queue `ingest`)."""

import hashlib
import logging
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update

from app.extensions import db
from app.knowledge import chunking, vectors
from app.knowledge.embeddings import EmbeddingError, get_embedder
from app.knowledge.fetch import FetchError, fetch
from app.knowledge.parsing import ParseError, parse_document
from app.knowledge.services import refresh_counts
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


def ingest_document(document_id: str) -> str:
    """Parse, chunk, embed and index one document. Safe to run twice or after a crash."""
    document = db.session.get(Document, uuid.UUID(document_id))
    if document is None:
        return "deleted"
    if not _claim(document):
        return "skipped"
    kb = db.session.get(KnowledgeBase, document.knowledge_base_id)
    try:
        _index(document, kb)
    except (IngestError, ParseError, FetchError, EmbeddingError) as error:
        _fail(document, str(error))
        return "failed"
    except Exception:  # the worker must survive anything a document does
        log.exception("ingestion crashed", extra={"document_id": document_id})
        _fail(document, "An internal error stopped processing. Retry; if it fails again, contact support.")
        return "failed"
    return "completed"


def _claim(document: Document) -> bool:
    """Move pending/failed/stalled -> processing atomically; False if another worker has it
    or it is already indexed under the current settings."""
    stale = utcnow() - timedelta(seconds=current_app.config["INGEST_STALE_SECONDS"])
    claimed = db.session.execute(
        update(Document)
        .where(
            Document.id == document.id,
            or_(
                Document.processing_status.in_([DocumentStatus.PENDING, DocumentStatus.FAILED]),
                (Document.processing_status == DocumentStatus.PROCESSING) & (Document.processing_started_at < stale),
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


def _index(document: Document, kb: KnowledgeBase) -> None:
    data, filename = _document_bytes(document)
    parsed = parse_document(data, filename)
    pieces = chunking.chunk_elements(parsed.elements, kb.chunk_size, kb.chunk_overlap)
    if not pieces:
        raise IngestError("No text could be extracted from this document.")
    ids = [Chunk.stable_id(document.id, piece.index) for piece in pieces]
    probes = [
        (chunk_id, piece, n, text)
        for chunk_id, piece in zip(ids, pieces, strict=True)
        for n, text in enumerate(piece.probe_texts())
    ]
    embeddings = get_embedder(kb.embedding_model).embed_documents([text for *_, text in probes])
    # Vectors first (upsert by stable id, then prune what the new version no
    # longer has), then the rows: searches keep working during a re-index, and
    # a crash in between leaves a retryable document, never duplicates.
    vector_ids = [vectors.probe_id(chunk_id, n) for chunk_id, _, n, _ in probes]
    vectors.upsert(
        document.creator_id,
        kb.embedding_model,
        vector_ids,
        embeddings,
        [
            {
                "document_id": str(document.id),
                "knowledge_base_id": str(kb.id),
                "chunk_id": str(chunk_id),
                "chunk_index": piece.index,
            }
            for chunk_id, piece, _, _ in probes
        ],
    )
    vectors.prune_document(document.creator_id, document.id, kb.embedding_model, set(vector_ids))
    db.session.execute(delete(Chunk).where(Chunk.document_id == document.id))
    db.session.add_all(
        Chunk(
            id=chunk_id,
            creator_id=document.creator_id,
            knowledge_base_id=kb.id,
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
    document.embedding_model = kb.embedding_model
    document.indexed_settings_version = kb.settings_version
    document.processing_status = DocumentStatus.COMPLETED
    document.processed_at = utcnow()
    db.session.commit()
    refresh_counts(kb.id)


def _fail(document: Document, reason: str) -> None:
    db.session.rollback()
    db.session.execute(
        update(Document)
        .where(Document.id == document.id)
        .values(processing_status=DocumentStatus.FAILED, error_message=reason[:2000], processed_at=utcnow())
    )
    db.session.commit()
    refresh_counts(document.knowledge_base_id)
