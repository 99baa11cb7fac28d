"""/api/v1/knowledge-bases: knowledge bases, documents and hybrid search."""

import json
import time
import uuid

from flask import current_app, request
from flask_smorest import Blueprint
from sqlalchemy import select

from app.api.auth import auth_required, current_caller, rate_limit_key
from app.api.errors import ApiError
from app.api.pagination import paginate
from app.api.schemas import MessageSchema
from app.extensions import db, limiter
from app.knowledge import schemas, services
from app.knowledge import search as retrieval
from app.models import Chunk, Role

bp = Blueprint("knowledge_api", __name__, url_prefix="/api/v1", description="Knowledge bases, documents and search")
EDITORS = (Role.OWNER, Role.ADMIN)
# Uploads count per creator across all knowledge bases (creator-hub-api: 50 an hour).
upload_limit = limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_API_UPLOADS"], scope="uploads", key_func=rate_limit_key, methods=["POST"]
)


def _kb(kb_id):
    return services.get_knowledge_base(current_caller().creator_id, kb_id)


@bp.route("/knowledge-bases", methods=["GET"])
@auth_required(*EDITORS)
@bp.arguments(schemas.PaginationQuerySchema, location="query")
@bp.response(200, schemas.KnowledgeBaseListSchema)
def list_knowledge_bases(query):
    items, pagination = paginate(
        services.knowledge_bases_query(current_caller().creator_id, query["search"]), query["page"], query["limit"]
    )
    return {"knowledge_bases": items, "pagination": pagination}


@bp.route("/knowledge-bases", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.KnowledgeBaseCreateSchema)
@bp.response(201, schemas.KnowledgeBaseSchema)
def create_knowledge_base(data):
    """Create a knowledge base. Without `embedding_model` it uses Ollama's when configured, else the local model."""
    return services.create_knowledge_base(
        current_caller().creator_id, data["name"], data["description"], data["settings"]
    )


@bp.route("/knowledge-bases/<uuid:kb_id>", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, schemas.KnowledgeBaseSchema)
def get_knowledge_base(kb_id: uuid.UUID):
    return _kb(kb_id)


@bp.route("/knowledge-bases/<uuid:kb_id>", methods=["PUT"])
@auth_required(*EDITORS)
@bp.arguments(schemas.KnowledgeBaseUpdateSchema)
@bp.response(200, schemas.KnowledgeBaseSchema)
def update_knowledge_base(data, kb_id: uuid.UUID):
    """Update name, description or settings; changed settings re-index every document."""
    return services.update_knowledge_base(_kb(kb_id), data)


@bp.route("/knowledge-bases/<uuid:kb_id>", methods=["DELETE"])
@auth_required(*EDITORS)
@bp.response(204)
def delete_knowledge_base(kb_id: uuid.UUID):
    services.delete_knowledge_base(_kb(kb_id))


@bp.route("/knowledge-bases/<uuid:kb_id>/documents", methods=["GET"])
@auth_required(*EDITORS)
@bp.arguments(schemas.DocumentQuerySchema, location="query")
@bp.response(200, schemas.DocumentListSchema)
def list_documents(query, kb_id: uuid.UUID):
    items, pagination = paginate(
        services.documents_query(_kb(kb_id), query["status"], query["search"]), query["page"], query["limit"]
    )
    return {"documents": items, "pagination": pagination}


def _metadata_field(raw: str | None) -> dict:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ApiError(
            422, "metadata must be a JSON object.", details=[{"field": "metadata", "message": "Not a JSON object."}]
        )
    return value


@bp.route("/knowledge-bases/<uuid:kb_id>/documents", methods=["POST"])
@auth_required(*EDITORS)
@upload_limit
@bp.arguments(schemas.DocumentUploadSchema, location="form")
@bp.response(201, schemas.DocumentSchema)
@bp.doc(
    requestBody={
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "title": {"type": "string"},
                        "metadata": {"type": "string"},
                    },
                }
            }
        }
    }
)
def upload_document(form, kb_id: uuid.UUID):
    """Upload a PDF, DOCX, HTML, Markdown or text file (multipart field `file`); processed in the background."""
    kb = _kb(kb_id)
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(
            422, "Attach the file in the multipart field 'file'.", details=[{"field": "file", "message": "Missing."}]
        )
    data = upload.read()
    return services.add_upload(kb, upload.filename, data, form.get("title"), _metadata_field(form.get("metadata")))


@bp.route("/knowledge-bases/<uuid:kb_id>/documents/text", methods=["POST"])
@auth_required(*EDITORS)
@upload_limit
@bp.arguments(schemas.DocumentTextSchema)
@bp.response(201, schemas.DocumentSchema)
def add_text_document(data, kb_id: uuid.UUID):
    """Add pasted text (Markdown headings structure it)."""
    return services.add_text(_kb(kb_id), data["title"], data["content"], data["metadata"])


@bp.route("/knowledge-bases/<uuid:kb_id>/documents/url", methods=["POST"])
@auth_required(*EDITORS)
@upload_limit
@bp.arguments(schemas.DocumentUrlSchema)
@bp.response(201, schemas.DocumentSchema)
def import_url_document(data, kb_id: uuid.UUID):
    """Import a public web page; the worker fetches it, refusing private and loopback addresses."""
    return services.add_url(_kb(kb_id), data["url"], data.get("title"), data["metadata"])


@bp.route("/knowledge-bases/<uuid:kb_id>/documents/<uuid:document_id>", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, schemas.DocumentDetailSchema)
def get_document(kb_id: uuid.UUID, document_id: uuid.UUID):
    """A document with its extracted text and its chunks."""
    document = services.get_document(_kb(kb_id), document_id)
    document.chunks = list(
        db.session.scalars(select(Chunk).where(Chunk.document_id == document.id).order_by(Chunk.chunk_index))
    )
    return document


@bp.route("/knowledge-bases/<uuid:kb_id>/documents/<uuid:document_id>", methods=["PUT"])
@auth_required(*EDITORS)
@bp.arguments(schemas.DocumentUpdateSchema)
@bp.response(200, schemas.DocumentSchema)
def update_document(data, kb_id: uuid.UUID, document_id: uuid.UUID):
    return services.update_document(services.get_document(_kb(kb_id), document_id), data)


@bp.route("/knowledge-bases/<uuid:kb_id>/documents/<uuid:document_id>", methods=["DELETE"])
@auth_required(*EDITORS)
@bp.response(200, MessageSchema)
def delete_document(kb_id: uuid.UUID, document_id: uuid.UUID):
    """Delete a document, its chunks and its vectors."""
    services.delete_document(services.get_document(_kb(kb_id), document_id))
    return {"message": "Document deleted successfully"}


@bp.route("/knowledge-bases/<uuid:kb_id>/documents/<uuid:document_id>/reprocess", methods=["POST"])
@auth_required(*EDITORS)
@bp.response(202, schemas.DocumentSchema)
def reprocess_document(kb_id: uuid.UUID, document_id: uuid.UUID):
    """Queue a failed, stalled or finished document for processing again."""
    return services.reprocess_document(services.get_document(_kb(kb_id), document_id))


def _search(kb_ids, data):
    started = time.perf_counter()
    hits = retrieval.search(current_caller().creator_id, data["query"], kb_ids, data["limit"])
    return {"query": data["query"], "results": hits, "took_ms": round((time.perf_counter() - started) * 1000, 1)}


@bp.route("/knowledge-bases/<uuid:kb_id>/search", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.SearchRequestSchema)
@bp.response(200, schemas.SearchResponseSchema)
def search_knowledge_base(data, kb_id: uuid.UUID):
    """Hybrid (semantic + keyword) search in one knowledge base."""
    return _search([_kb(kb_id).id], data)


@bp.route("/knowledge/search", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.SearchRequestSchema)
@bp.response(200, schemas.SearchResponseSchema)
def search_all(data):
    """Hybrid search across all of the creator's knowledge bases (or the listed ones)."""
    kb_ids = None
    if data.get("knowledge_base_ids"):
        kb_ids = [services.get_knowledge_base(current_caller().creator_id, i).id for i in data["knowledge_base_ids"]]
    return _search(kb_ids, data)
