"""Knowledge bases and documents: create, update, delete, (re-)index."""

import hashlib
import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.api.errors import ApiError
from app.extensions import db
from app.jobs import enqueue
from app.knowledge import vectors
from app.knowledge.embeddings import LOCAL_MODEL, EmbeddingError, default_embedding_model, get_embedder
from app.knowledge.fetch import FetchError, check_url_syntax
from app.knowledge.parsing import ParseError, detect_file_type, safe_filename
from app.models import Document, DocumentFile, DocumentStatus, KnowledgeBase
from app.models.base import utcnow
from app.tenancy import get_for_creator

SETTINGS = ("chunk_size", "chunk_overlap", "embedding_model")


# --- Knowledge bases --------------------------------------------------------


def knowledge_bases_query(creator_id: uuid.UUID, search: str | None = None):
    query = select(KnowledgeBase).where(KnowledgeBase.creator_id == creator_id)
    if search:
        query = query.where(KnowledgeBase.name.ilike(f"%{search}%"))
    return query.order_by(KnowledgeBase.created_at.desc())


def get_knowledge_base(creator_id: uuid.UUID, kb_id: uuid.UUID) -> KnowledgeBase:
    return get_for_creator(KnowledgeBase, creator_id, kb_id, "Knowledge base")


def _check_model(model: str) -> None:
    if model == LOCAL_MODEL:
        return
    try:
        get_embedder(model)
    except EmbeddingError as error:
        raise ApiError(
            422, str(error), details=[{"field": "settings.embedding_model", "message": str(error)}]
        ) from error


def _check_name_free(creator_id, name: str, exclude_id=None) -> None:
    # SQLite's lower() folds only ASCII: the exact name is asked for too (the unique index's own rule).
    query = select(KnowledgeBase.id).where(
        KnowledgeBase.creator_id == creator_id,
        or_(KnowledgeBase.name == name, func.lower(KnowledgeBase.name) == name.lower()),
    )
    if exclude_id:
        query = query.where(KnowledgeBase.id != exclude_id)
    if db.session.scalar(query):
        raise ApiError(
            409,
            f"A knowledge base named {name!r} already exists.",
            details=[{"field": "name", "message": "Already used."}],
        )


def create_knowledge_base(creator_id: uuid.UUID, name: str, description: str = "", settings: dict | None = None):
    settings = settings or {}
    model = settings.get("embedding_model") or default_embedding_model()
    _check_model(model)
    _check_name_free(creator_id, name)
    kb = KnowledgeBase(
        creator_id=creator_id,
        name=name,
        description=description or "",
        embedding_model=model,
        chunk_size=settings.get("chunk_size", 1000),
        chunk_overlap=settings.get("chunk_overlap", 200),
    )
    db.session.add(kb)
    db.session.commit()
    return kb


def update_knowledge_base(kb: KnowledgeBase, data: dict) -> KnowledgeBase:
    """Rename or re-describe; a change of chunking or embedding model re-indexes every document."""
    if "name" in data and data["name"] != kb.name:
        _check_name_free(kb.creator_id, data["name"], kb.id)
        kb.name = data["name"]
    if "description" in data:
        kb.description = data["description"] or ""
    settings = data.get("settings") or {}
    if settings.get("embedding_model"):
        _check_model(settings["embedding_model"])
    changed = {k: v for k, v in settings.items() if k in SETTINGS and v is not None and getattr(kb, k) != v}
    if changed.get("chunk_overlap", kb.chunk_overlap) * 2 >= changed.get("chunk_size", kb.chunk_size):
        raise ApiError(
            422,
            "chunk_overlap must be less than half of chunk_size.",
            details=[{"field": "settings.chunk_overlap", "message": "Less than half of chunk_size."}],
        )
    for key, value in changed.items():
        setattr(kb, key, value)
    if changed:
        kb.settings_version += 1
    db.session.commit()
    if changed:
        reindex_knowledge_base(kb)
    return kb


def reindex_knowledge_base(kb: KnowledgeBase) -> int:
    """Queue every document of the KB for ingestion under the current settings.

    A document a job is processing right now keeps its claim: that job sees the new
    settings version when it finishes and queues the document again itself.
    """
    ids = list(db.session.scalars(select(Document.id).where(Document.knowledge_base_id == kb.id)))
    db.session.execute(
        update(Document)
        .where(
            Document.knowledge_base_id == kb.id,
            or_(
                Document.processing_status != DocumentStatus.PROCESSING,
                Document.processing_started_at < stale_cutoff(),
            ),
        )
        .values(processing_status=DocumentStatus.PENDING, error_message=None)
    )
    db.session.commit()
    for document_id in ids:
        enqueue_ingest(document_id)
    return len(ids)


def delete_knowledge_base(kb: KnowledgeBase) -> None:
    vectors.delete_knowledge_base(kb.creator_id, kb.id)
    db.session.delete(kb)
    db.session.commit()


def refresh_counts(kb_id: uuid.UUID) -> None:
    """Keep document_count and total_size_bytes true (recounted, never incremented)."""
    count, size = db.session.execute(
        select(func.count(Document.id), func.coalesce(func.sum(Document.file_size_bytes), 0)).where(
            Document.knowledge_base_id == kb_id
        )
    ).one()
    db.session.execute(
        update(KnowledgeBase).where(KnowledgeBase.id == kb_id).values(document_count=count, total_size_bytes=size)
    )
    db.session.commit()


# --- Documents ---------------------------------------------------------------


def documents_query(kb: KnowledgeBase, status: str | None = None, search: str | None = None):
    query = select(Document).where(Document.knowledge_base_id == kb.id, Document.creator_id == kb.creator_id)
    if status:
        query = query.where(Document.processing_status == status)
    if search:
        pattern = f"%{search}%"
        query = query.where(or_(Document.title.ilike(pattern), Document.filename.ilike(pattern)))
    return query.order_by(Document.created_at.desc())


def get_document(kb: KnowledgeBase, document_id: uuid.UUID) -> Document:
    document = get_for_creator(Document, kb.creator_id, document_id, "Document")
    if document.knowledge_base_id != kb.id:
        raise ApiError(404, "Document not found.")
    return document


def _duplicate_of(kb: KnowledgeBase, checksum: str) -> Document | None:
    return db.session.scalar(select(Document).where(Document.knowledge_base_id == kb.id, Document.checksum == checksum))


def _duplicate_error(existing: Document) -> ApiError:
    return ApiError(
        409,
        f"This file is already in the knowledge base as {existing.title!r}.",
        details={"existing_document_id": str(existing.id)},
    )


def _store(kb: KnowledgeBase, document: Document, data: bytes | None) -> Document:
    if data is not None:
        document.checksum = hashlib.sha256(data).hexdigest()
        existing = _duplicate_of(kb, document.checksum)
        if existing:
            raise _duplicate_error(existing)
        document.file_size_bytes = len(data)
    db.session.add(document)
    if data is not None:
        db.session.add(DocumentFile(document_id=document.id, data=data))
    try:
        db.session.commit()
    except IntegrityError:
        # The same bytes uploaded twice at once: both passed the check above, the
        # unique constraint let one in. The other gets the sequential duplicate's answer.
        db.session.rollback()
        existing = _duplicate_of(kb, document.checksum) if document.checksum else None
        if existing is None:
            raise
        raise _duplicate_error(existing) from None
    refresh_counts(kb.id)
    enqueue_ingest(document.id)
    return document


def add_upload(kb: KnowledgeBase, filename: str, data: bytes, title: str | None = None, meta: dict | None = None):
    """Store an uploaded file and queue it; the type is decided by the bytes, not the name."""
    name = safe_filename(filename or "document")
    try:
        file_type = detect_file_type(data, name)
    except ParseError as error:
        raise ApiError(422, str(error), details=[{"field": "file", "message": str(error)}]) from error
    document = Document(
        id=uuid.uuid4(),
        creator_id=kb.creator_id,
        knowledge_base_id=kb.id,
        source="upload",
        title=(title or name.rsplit(".", 1)[0])[:300],
        filename=name,
        file_type=file_type,
        meta=meta or {},
    )
    return _store(kb, document, data)


def add_text(kb: KnowledgeBase, title: str, content: str, meta: dict | None = None) -> Document:
    """Pasted text is stored as Markdown, so its headings structure the chunks."""
    data = content.replace("\x00", "").encode("utf-8")
    document = Document(
        id=uuid.uuid4(),
        creator_id=kb.creator_id,
        knowledge_base_id=kb.id,
        source="text",
        title=title[:300],
        filename=f"{safe_filename(title)[:200]}.md",
        file_type="md",
        meta=meta or {},
    )
    return _store(kb, document, data)


def add_url(kb: KnowledgeBase, url: str, title: str | None = None, meta: dict | None = None) -> Document:
    """Queue a URL import; the worker fetches it (checking every address it reaches)."""
    try:
        url = check_url_syntax(url)
    except FetchError as error:
        raise ApiError(422, str(error), details=[{"field": "url", "message": str(error)}]) from error
    document = Document(
        id=uuid.uuid4(),
        creator_id=kb.creator_id,
        knowledge_base_id=kb.id,
        source="url",
        title=(title or url)[:300],
        source_url=url,
        meta=meta or {},
    )
    return _store(kb, document, None)


def update_document(document: Document, data: dict) -> Document:
    if data.get("title"):
        document.title = data["title"]
    if "metadata" in data:
        document.meta = data["metadata"] or {}
    db.session.commit()
    return document


def delete_document(document: Document) -> None:
    """Delete the document, its chunks and its vectors."""
    vectors.delete_document(document.creator_id, document.id)
    kb_id = document.knowledge_base_id
    db.session.delete(document)
    db.session.commit()
    refresh_counts(kb_id)


def stale_cutoff() -> datetime:
    """Processing that started before this was left by a dead worker. Always longer ago
    than a job may run, so a slow job still running is never claimed a second time."""
    config = current_app.config
    seconds = max(config["INGEST_STALE_SECONDS"], config["INGEST_JOB_TIMEOUT_SECONDS"] + 60)
    return utcnow() - timedelta(seconds=seconds)


def is_stalled(document: Document) -> bool:
    """Processing for longer than a job may take: its worker died."""
    started = document.processing_started_at
    return document.processing_status == DocumentStatus.PROCESSING and (started is None or started < stale_cutoff())


def reprocess_document(document: Document) -> Document:
    if document.processing_status == DocumentStatus.PROCESSING and not is_stalled(document):
        raise ApiError(409, "The document is being processed right now.")
    document.processing_status = DocumentStatus.PENDING
    document.error_message = None
    db.session.commit()
    enqueue_ingest(document.id)
    return document


def requeue_stalled_documents() -> int:
    """Queue again every document whose worker died mid-job (run when workers start)."""
    ids = list(
        db.session.scalars(
            select(Document.id).where(
                Document.processing_status == DocumentStatus.PROCESSING,
                or_(Document.processing_started_at.is_(None), Document.processing_started_at < stale_cutoff()),
            )
        )
    )
    for document_id in ids:
        enqueue_ingest(document_id)
    return len(ids)


def enqueue_ingest(document_id: uuid.UUID) -> None:
    """Queue the ingestion job of one document (it claims the document itself, so queueing twice is harmless)."""
    from app.knowledge.tasks import ingest_document

    enqueue(
        ingest_document, str(document_id), queue="ingest", job_timeout=current_app.config["INGEST_JOB_TIMEOUT_SECONDS"]
    )
