"""/api/v1/users and /api/v1/segments: the audience for API consumers.

Every role may read users (agents work with them in the inbox); owners and
admins change them, import them and manage segments.
"""

import uuid

from flask_smorest import Blueprint

from app.api.auth import auth_required, current_caller
from app.api.pagination import paginate
from app.audience import schemas, segments, services
from app.models import Role

bp = Blueprint("audience_api", __name__, url_prefix="/api/v1", description="End users, consent, imports and segments")
EDITORS = (Role.OWNER, Role.ADMIN)


def _user(user_id: uuid.UUID):
    return services.get_user(current_caller().creator_id, user_id)


@bp.route("/users", methods=["GET"])
@auth_required()
@bp.arguments(schemas.UserQuerySchema, location="query")
@bp.response(200, schemas.UserListSchema)
def list_users(query):
    """Users, newest first; filter by channel, status, consent and tag; search names, ids, phones, e-mails."""
    filters = {k: query[k] for k in ("channel", "status", "consent_state", "tag", "search", "sort", "order")}
    items, pagination = paginate(
        services.users_query(current_caller().creator_id, **filters), query["page"], query["limit"]
    )
    return {"users": services.summarize(items), "pagination": pagination}


@bp.route("/users", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.UserWriteSchema)
@bp.response(201, schemas.UserDetailSchema)
@bp.alt_response(409, description="A user with this phone or external id exists")
def create_user(data):
    """A user reachable by SMS at phone_e164 (E.164), or known to your systems by external_id."""
    return services.detail(services.create_user(current_caller().creator_id, data))


@bp.route("/users/lookup", methods=["GET"])
@auth_required()
@bp.arguments(schemas.LookupQuerySchema, location="query")
@bp.response(200, schemas.UserDetailSchema)
def lookup_user(query):
    """The user with this E.164 phone number (404 when none)."""
    return services.detail(services.lookup(current_caller().creator_id, query["phone"].strip()))


@bp.route("/users/<uuid:user_id>", methods=["GET"])
@auth_required()
@bp.response(200, schemas.UserDetailSchema)
def get_user(user_id: uuid.UUID):
    """Profile, attributes, tags, consent and its history, memories, identities and recent interactions."""
    return services.detail(_user(user_id))


@bp.route("/users/<uuid:user_id>", methods=["PUT"])
@auth_required(*EDITORS)
@bp.arguments(schemas.UserWriteSchema)
@bp.response(200, schemas.UserDetailSchema)
@bp.alt_response(409, description="Another user has this phone number")
def update_user(data, user_id: uuid.UUID):
    """Change what you send; a consent_state change is recorded in the history with source "api"."""
    return services.detail(services.update_user(_user(user_id), data))


@bp.route("/users/<uuid:user_id>", methods=["DELETE"])
@auth_required(*EDITORS)
@bp.response(204)
def delete_user(user_id: uuid.UUID):
    """Delete the user with their conversations, memories, tags and consent history."""
    services.delete_user(_user(user_id))


@bp.route("/users/<uuid:user_id>/link", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.LinkSchema)
@bp.response(200, schemas.UserDetailSchema)
def link_user(data, user_id: uuid.UUID):
    """Merge other_user_id into this user (one person on the widget and on SMS becomes one user).

    Its identities, conversations, memories, tags and consent history move
    here; this user's values win; the more protective consent is kept.
    """
    user = _user(user_id)
    other = services.get_user(current_caller().creator_id, data["other_user_id"])
    return services.detail(services.link_users(user, other))


@bp.route("/users/bulk/upload", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.UploadSchema, location="files")
@bp.response(202, schemas.UserImportSchema)
def upload_users(files):
    """Import a CSV or JSON file in the background; poll GET /users/imports/<id> for progress and the report.

    CSV: a header with phone_e164 or external_id, then name, email, timezone,
    language, consent_state, tags ("a;b") and any columns of your own.
    """
    upload = files["file"]
    data = upload.read()
    return services.start_import(current_caller().creator_id, upload.filename or "upload", upload.mimetype, data)


@bp.route("/users/imports", methods=["GET"])
@auth_required(*EDITORS)
@bp.arguments(schemas.PaginationQuerySchema, location="query")
@bp.response(200, schemas.ImportListSchema)
def list_imports(query):
    items, pagination = paginate(services.imports_query(current_caller().creator_id), query["page"], query["limit"])
    return {"imports": items, "pagination": pagination}


@bp.route("/users/imports/<uuid:import_id>", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, schemas.UserImportSchema)
def get_import(import_id: uuid.UUID):
    """Status, progress (processed_rows of total_rows) and the report: created, updated, per-row errors."""
    return services.get_import(current_caller().creator_id, import_id)


@bp.route("/segments", methods=["GET"])
@auth_required()
@bp.arguments(schemas.PaginationQuerySchema, location="query")
@bp.response(200, schemas.SegmentListSchema)
def list_segments(query):
    items, pagination = paginate(segments.list_segments(current_caller().creator_id), query["page"], query["limit"])
    return {"segments": items, "pagination": pagination}


@bp.route("/segments", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.SegmentSchema)
@bp.response(201, schemas.SegmentSchema)
def create_segment(data):
    """A named filter over your users; a criteria error is a 422 naming its path."""
    return segments.save_segment(current_caller().creator_id, data)


@bp.route("/segments/<uuid:segment_id>", methods=["GET"])
@auth_required()
@bp.response(200, schemas.SegmentSchema)
def get_segment(segment_id: uuid.UUID):
    return segments.get_segment(current_caller().creator_id, segment_id)


@bp.route("/segments/<uuid:segment_id>", methods=["PUT"])
@auth_required(*EDITORS)
@bp.arguments(schemas.SegmentUpdateSchema)
@bp.response(200, schemas.SegmentSchema)
def update_segment(data, segment_id: uuid.UUID):
    creator_id = current_caller().creator_id
    return segments.save_segment(creator_id, data, segments.get_segment(creator_id, segment_id))


@bp.route("/segments/<uuid:segment_id>", methods=["DELETE"])
@auth_required(*EDITORS)
@bp.response(204)
def delete_segment(segment_id: uuid.UUID):
    segments.delete_segment(segments.get_segment(current_caller().creator_id, segment_id))


@bp.route("/segments/<uuid:segment_id>/evaluate", methods=["POST"])
@auth_required()
@bp.response(200, schemas.EvaluationSchema)
def evaluate_segment(segment_id: uuid.UUID):
    """Count the users matching now, with a sample; one database query, timed."""
    return segments.evaluate(segments.get_segment(current_caller().creator_id, segment_id))
