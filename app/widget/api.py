"""/api/v1/channels: the chat widget and its embed code; SMS and WhatsApp numbers through Twilio."""

import uuid

from flask_smorest import Blueprint

from app.api.auth import auth_required, current_caller
from app.api.errors import ApiError
from app.extensions import db
from app.messaging import channels as twilio_channels
from app.models import Role
from app.widget import schemas, services

bp = Blueprint(
    "channels_api", __name__, url_prefix="/api/v1/channels", description="Channels: the chat widget, SMS and WhatsApp"
)
EDITORS = (Role.OWNER, Role.ADMIN)


@bp.route("", methods=["GET"])
@auth_required()
@bp.response(200, schemas.ChannelListSchema)
def list_channels():
    channels = db.session.scalars(services.channels_query(current_caller().creator_id)).all()
    return {"channels": [services.describe(channel) for channel in channels]}


@bp.route("", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.ChannelCreateSchema)
@bp.response(201, schemas.ChannelSchema)
def create_channel(data):
    """Create a web channel (colour, title, welcome message, avatar, allowed origins) or an SMS/WhatsApp
    channel ({account_sid, phone_numbers, messaging_service_sid} and secrets.auth_token, stored encrypted).
    A number another channel already has is a 409."""
    return services.describe(services.create_channel(current_caller().creator_id, data))


@bp.route("/<uuid:channel_id>", methods=["PUT"])
@auth_required(*EDITORS)
@bp.arguments(schemas.ChannelUpdateSchema)
@bp.response(200, schemas.ChannelSchema)
def update_channel(data, channel_id: uuid.UUID):
    channel = services.get_channel(current_caller().creator_id, channel_id)
    return services.describe(services.update_any_channel(channel, data))


@bp.route("/<uuid:channel_id>/verify", methods=["POST"])
@auth_required(*EDITORS)
@bp.response(200, schemas.ChannelSchema)
def verify_channel(channel_id: uuid.UUID):
    """Check a Twilio channel's credentials against Twilio (fetch the account): status active or failed."""
    channel = services.get_channel(current_caller().creator_id, channel_id)
    if channel.channel_type not in twilio_channels.TWILIO_TYPES:
        raise ApiError(409, "Only SMS and WhatsApp channels have credentials to verify.")
    return services.describe(twilio_channels.verify(channel))


@bp.route("/<uuid:channel_id>/analytics", methods=["GET"])
@auth_required()
@bp.arguments(schemas.AnalyticsQuerySchema, location="query")
@bp.response(200, schemas.ChannelAnalyticsSchema)
def channel_analytics(args, channel_id: uuid.UUID):
    """Messages in and out, unique users, new users and a daily breakdown over `days` (30)."""
    channel = services.get_channel(current_caller().creator_id, channel_id)
    return twilio_channels.analytics(channel, args["days"])


@bp.route("/<uuid:channel_id>/embed-code", methods=["GET"])
@auth_required()
@bp.response(200, schemas.EmbedCodeSchema)
def embed_code(channel_id: uuid.UUID):
    """The one <script> tag to paste into a web page."""
    channel = services.get_channel(current_caller().creator_id, channel_id)
    return {"channel_id": channel.id, "embed_code": services.embed_code(channel)}
