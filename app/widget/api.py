"""/api/v1/channels: web channels (the chat widget) and their embed code."""

import uuid

from flask_smorest import Blueprint

from app.api.auth import auth_required, current_caller
from app.extensions import db
from app.models import Role
from app.widget import schemas, services

bp = Blueprint("channels_api", __name__, url_prefix="/api/v1/channels", description="Channels: the chat widget")
EDITORS = (Role.OWNER, Role.ADMIN)


@bp.route("", methods=["GET"])
@auth_required()
@bp.response(200, schemas.ChannelListSchema)
def list_channels():
    return {"channels": db.session.scalars(services.channels_query(current_caller().creator_id)).all()}


@bp.route("", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.ChannelCreateSchema)
@bp.response(201, schemas.ChannelSchema)
def create_channel(data):
    """Create a web channel: colour, title, welcome message, avatar and allowed origins."""
    return services.create_web_channel(current_caller().creator_id, data["channel_name"], data["configuration"])


@bp.route("/<uuid:channel_id>", methods=["PUT"])
@auth_required(*EDITORS)
@bp.arguments(schemas.ChannelUpdateSchema)
@bp.response(200, schemas.ChannelSchema)
def update_channel(data, channel_id: uuid.UUID):
    channel = services.get_channel(current_caller().creator_id, channel_id)
    return services.update_channel(channel, data.get("channel_name"), data.get("configuration"))


@bp.route("/<uuid:channel_id>/embed-code", methods=["GET"])
@auth_required()
@bp.response(200, schemas.EmbedCodeSchema)
def embed_code(channel_id: uuid.UUID):
    """The one <script> tag to paste into a web page."""
    channel = services.get_channel(current_caller().creator_id, channel_id)
    return {"channel_id": channel.id, "embed_code": services.embed_code(channel)}
