"""/api/v1/faq and /api/v1/cache: FAQ entries, their extraction from frequent
questions, and the response cache's stats, warming and clearing."""

import uuid

from flask_smorest import Blueprint

from app.api.auth import auth_required, current_caller
from app.api.pagination import paginate
from app.faq import cache, schemas, services
from app.faq.tasks import warm_cache
from app.jobs import enqueue
from app.models import Role

bp = Blueprint("faq_api", __name__, url_prefix="/api/v1", description="FAQ entries and the response cache")
EDITORS = (Role.OWNER, Role.ADMIN)


@bp.route("/faq", methods=["GET"])
@auth_required(*EDITORS)
@bp.arguments(schemas.FaqQuerySchema, location="query")
@bp.response(200, schemas.FaqListSchema)
def list_faqs(query):
    """FAQ entries, published first, most used first; filter by status, search question and answer."""
    entries = services.list_entries(current_caller().creator_id, query["status"], query["search"])
    items, pagination = paginate(entries, query["page"], query["limit"])
    return {"faqs": items, "pagination": pagination}


@bp.route("/faq", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.FaqEntrySchema)
@bp.response(201, schemas.FaqEntrySchema)
@bp.alt_response(409, description="Published, it would ask a question another published entry asks: details name it")
def create_faq(data):
    """A question with its variants and answer; published entries answer matching messages instantly."""
    return services.save_entry(current_caller().creator_id, data)


@bp.route("/faq/<uuid:faq_id>", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, schemas.FaqEntrySchema)
def get_faq(faq_id: uuid.UUID):
    return services.get_entry(current_caller().creator_id, faq_id)


@bp.route("/faq/<uuid:faq_id>", methods=["PATCH"])
@auth_required(*EDITORS)
@bp.arguments(schemas.FaqUpdateSchema)
@bp.response(200, schemas.FaqEntrySchema)
@bp.alt_response(409, description="Published, it would ask a question another published entry asks: details name it")
def update_faq(data, faq_id: uuid.UUID):
    """Change any field; publish a draft with {"status": "published"} once it has an answer."""
    creator_id = current_caller().creator_id
    return services.save_entry(creator_id, data, services.get_entry(creator_id, faq_id))


@bp.route("/faq/<uuid:faq_id>", methods=["DELETE"])
@auth_required(*EDITORS)
@bp.response(204)
def delete_faq(faq_id: uuid.UUID):
    services.delete_entry(services.get_entry(current_caller().creator_id, faq_id))


@bp.route("/faq/extract", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.ExtractRequestSchema)
@bp.response(201, schemas.ExtractResultSchema)
def extract_faqs(data):
    """Questions asked at least min_frequency times in the last `days` days become draft entries to review."""
    created = services.extract(current_caller().creator_id, data["min_frequency"], data["max_results"], data["days"])
    return {"extracted": len(created), "faqs": created}


@bp.route("/cache/stats", methods=["GET"])
@auth_required(*EDITORS)
@bp.arguments(schemas.CacheStatsQuerySchema, location="query")
@bp.response(200, schemas.CacheStatsSchema)
def cache_stats(query):
    """Answers kept, how often they were reused, hit rate overall and by channel, the most reused questions."""
    return cache.stats(current_caller().creator_id, query["days"])


@bp.route("/cache/warm", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.WarmRequestSchema)
@bp.response(202, schemas.WarmResultSchema)
def warm(data):
    """Answer these questions in the background and keep the answers, so the first asker gets one at once."""
    queries = list(dict.fromkeys(q.strip() for q in data["queries"]))
    job = enqueue(warm_cache, str(current_caller().creator_id), queries)
    return {"queued": len(queries), "job_id": job.id}


@bp.route("/cache", methods=["DELETE"])
@auth_required(*EDITORS)
@bp.response(200, schemas.ClearResultSchema)
def clear_cache():
    """Forget every cached answer (they also expire, and stop matching when your knowledge changes)."""
    return {"cleared": cache.clear(current_caller().creator_id)}
