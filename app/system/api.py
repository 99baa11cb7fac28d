"""/api/v1/ai: vector store health and statistics (AI Engine of the service guide)."""

import uuid

from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import func, select

from app.api.auth import auth_required, current_caller
from app.api.errors import not_found
from app.api.schemas import BaseSchema
from app.extensions import db
from app.knowledge import vectors
from app.models import Chunk, Document, KnowledgeBase, Role
from app.system import services

# Knowledge statistics are for those who edit knowledge, as on the dashboard.
EDITORS = (Role.OWNER, Role.ADMIN)

bp = Blueprint("ai_api", __name__, url_prefix="/api/v1/ai", description="AI engine: vector store health and stats")


class ChromaHealthSchema(BaseSchema):
    status = fields.String()
    mode = fields.String()
    collections = fields.Integer()
    latency_ms = fields.Float()
    error = fields.String()


class CollectionSchema(BaseSchema):
    name = fields.String()
    count = fields.Integer()
    embedding_model = fields.String(allow_none=True)


class ChromaStatsSchema(BaseSchema):
    collections = fields.List(fields.Nested(CollectionSchema))
    total_vectors = fields.Integer()


class EmbeddingStatsSchema(BaseSchema):
    creator_id = fields.UUID()
    knowledge_bases = fields.Integer()
    documents = fields.Integer()
    chunks = fields.Integer()
    vectors_by_model = fields.Dict(keys=fields.String(), values=fields.Integer())


@bp.route("/chromadb/health", methods=["GET"])
@auth_required()
@bp.response(200, ChromaHealthSchema)
def chroma_health():
    """Whether the vector store answers, how fast, and how many collections the caller has."""
    return services.chroma_health(current_caller().creator_id)


@bp.route("/chromadb/stats", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, ChromaStatsSchema)
def chroma_stats():
    """The caller's collections (one per embedding model) and their vector counts."""
    collections = vectors.stats(current_caller().creator_id)
    return {"collections": collections, "total_vectors": sum(c["count"] for c in collections)}


@bp.route("/embeddings/stats/<uuid:creator_id>", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, EmbeddingStatsSchema)
def embedding_stats(creator_id: uuid.UUID):
    """Knowledge and vector counts of a creator (only your own: others answer 404)."""
    if creator_id != current_caller().creator_id:
        raise not_found("Creator")

    def count(model):
        return db.session.scalar(select(func.count()).select_from(model).where(model.creator_id == creator_id))

    by_model = {c["embedding_model"] or c["name"]: c["count"] for c in vectors.stats(creator_id)}
    return {
        "creator_id": creator_id,
        "knowledge_bases": count(KnowledgeBase),
        "documents": count(Document),
        "chunks": count(Chunk),
        "vectors_by_model": by_model,
    }
