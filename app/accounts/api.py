"""/api/v1: creator profile, AI config (persona), API keys and team members."""

import uuid

from flask_smorest import Blueprint

from app.accounts import schemas, services
from app.api.auth import auth_required, current_caller
from app.api.pagination import paginate
from app.auth.schemas import CreatorSchema, MemberSchema
from app.auth.services import password_reset_url
from app.models import Role

bp = Blueprint(
    "accounts_api", __name__, url_prefix="/api/v1", description="Creator profile, AI persona, API keys and team"
)

ADMINS = (Role.OWNER, Role.ADMIN)


@bp.route("/creators/profile", methods=["GET"])
@auth_required()
@bp.response(200, CreatorSchema)
def get_profile():
    """The creator's profile."""
    return current_caller().creator


@bp.route("/creators/profile", methods=["PUT"])
@auth_required(*ADMINS)
@bp.arguments(schemas.ProfileUpdateSchema)
@bp.response(200, CreatorSchema)
def update_profile(data):
    """Update the creator's profile (owner or admin)."""
    return services.update_profile(current_caller().creator, data)


@bp.route("/creators/ai-config", methods=["GET"])
@auth_required(*ADMINS)
@bp.response(200, schemas.AIConfigSchema)
def get_ai_config():
    """The assistant's persona: prompt, tone, language, prohibited topics, fallback, model."""
    return services.persona_for(current_caller().creator)


@bp.route("/creators/ai-config", methods=["PUT"])
@auth_required(*ADMINS)
@bp.arguments(schemas.AIConfigSchema)
@bp.response(200, schemas.AIConfigSchema)
def update_ai_config(data):
    """Update the persona; fields left out keep their value."""
    return services.update_persona(current_caller().creator, data)


@bp.route("/api-keys", methods=["GET"])
@auth_required(*ADMINS)
@bp.arguments(schemas.TeamQuerySchema(only=("page", "limit")), location="query")
@bp.response(200, schemas.ApiKeyListSchema)
def list_api_keys(query):
    """API keys of this creator (secrets are never returned)."""
    keys, pagination = paginate(services.api_keys_query(current_caller().creator), query["page"], query["limit"])
    return {"api_keys": keys, "pagination": pagination}


@bp.route("/api-keys", methods=["POST"])
@auth_required(*ADMINS)
@bp.arguments(schemas.ApiKeyCreateSchema)
@bp.response(201, schemas.ApiKeyCreatedSchema)
def create_api_key(data):
    """Create a key. The `key` field of this response is the only time it is shown."""
    caller = current_caller()
    key, secret = services.create_api_key(caller.creator, data["name"], Role(data["role"]), caller.acting_member)
    key.secret = secret  # not a column: lives only for this response
    return key


@bp.route("/api-keys/<uuid:key_id>", methods=["DELETE"])
@auth_required(*ADMINS)
@bp.response(200, schemas.ApiKeySchema)
def revoke_api_key(key_id: uuid.UUID):
    """Revoke a key; requests with it fail from now on."""
    return services.revoke_api_key(current_caller().creator, key_id)


@bp.route("/team/members", methods=["GET"])
@auth_required(*ADMINS)
@bp.arguments(schemas.TeamQuerySchema, location="query")
@bp.response(200, schemas.MemberListSchema)
def list_members(query):
    """Team members, filterable by role."""
    role = Role(query["role"]) if query["role"] else None
    members, pagination = paginate(
        services.team_query(current_caller().creator, role, query["search"]), query["page"], query["limit"]
    )
    return {"members": members, "pagination": pagination}


@bp.route("/team/members", methods=["POST"])
@auth_required(*ADMINS)
@bp.arguments(schemas.MemberCreateSchema)
@bp.response(201, schemas.MemberCreatedSchema)
def add_member(data):
    """Add an admin (owner only) or agent. Without a password, an invite link is returned once."""
    caller = current_caller()
    member = services.add_member(caller.creator, caller.role, data)
    member.invite_url = None if member.password_hash else password_reset_url(member)  # shown once
    return member


@bp.route("/team/members/<uuid:member_id>", methods=["GET"])
@auth_required(*ADMINS)
@bp.response(200, MemberSchema)
def get_member(member_id: uuid.UUID):
    return services.get_member(current_caller().creator, member_id)


@bp.route("/team/members/<uuid:member_id>", methods=["PUT"])
@auth_required(*ADMINS)
@bp.arguments(schemas.MemberUpdateSchema)
@bp.response(200, MemberSchema)
def update_member(data, member_id: uuid.UUID):
    """Change a member's name, role or active flag; their sessions end on role change."""
    caller = current_caller()
    return services.update_member(caller.creator, caller.role, member_id, data)


@bp.route("/team/members/<uuid:member_id>", methods=["DELETE"])
@auth_required(*ADMINS)
@bp.response(204)
def remove_member(member_id: uuid.UUID):
    """Remove a member from the team."""
    caller = current_caller()
    services.remove_member(caller.creator, caller.role, member_id)
