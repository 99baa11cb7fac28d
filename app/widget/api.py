"""/api/v1/channels: the chat widget and its embed code; SMS and WhatsApp numbers through Twilio.

Bodies follow creator-hub-api.md "Channel Management API" (configuration.phone_number,
configuration.access_token, ...) or the product's richer shape (configuration.phone_numbers,
secrets.auth_token); either way credentials are stored encrypted and never returned.
"""

import uuid

from flask_smorest import Blueprint

from app.api.auth import auth_required, current_caller
from app.api.errors import ApiError
from app.extensions import db
from app.messaging import channels as twilio_channels
from app.models import Channel, Role
from app.widget import schemas, services

bp = Blueprint(
    "channels_api", __name__, url_prefix="/api/v1/channels", description="Channels: the chat widget, SMS and WhatsApp"
)
EDITORS = (Role.OWNER, Role.ADMIN)


def _described(channels: list[Channel]) -> list[dict]:
    """Each channel as ChannelSchema shows it, with the source's user_count and last_activity_at."""
    stats = twilio_channels.activity(current_caller().creator_id, channels)
    return [
        {
            "verified_at": None,
            **(twilio_channels.describe(c) if c.channel_type in twilio_channels.TWILIO_TYPES else services.describe(c)),
            **stats[c.id],
        }
        for c in channels
    ]


def _channel(channel_id: uuid.UUID) -> Channel:
    return twilio_channels.get_channel(current_caller().creator_id, channel_id)


@bp.route("", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, schemas.ChannelListSchema)
def list_channels():
    channels = db.session.scalars(twilio_channels.channels_query(current_caller().creator_id)).all()
    return {"channels": _described(channels)}


@bp.route("", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.ChannelCreateSchema)
@bp.response(201, schemas.ChannelSchema)
def create_channel(data):
    """Create a web channel (colour, title, welcome message, avatar, allowed origins) or an SMS/WhatsApp
    channel: `{phone_number, business_account_id, access_token, webhook_verify_token}` as creator-hub-api.md
    has it, or `{account_sid, phone_numbers, messaging_service_sid}` with `secrets.auth_token`.
    A number starts `pending_verification` and claims nothing until POST .../verify succeeds."""
    creator_id = current_caller().creator_id
    if data["channel_type"] in twilio_channels.TWILIO_TYPES:
        channel = twilio_channels.create_twilio_channel(
            creator_id, data["channel_type"], data["channel_name"], data["configuration"], data.get("secrets")
        )
    else:
        twilio_channels.refuse_for_web(data)
        channel = services.create_channel(creator_id, data)
    return _described([channel])[0]


@bp.route("/<uuid:channel_id>", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, schemas.ChannelSchema)
def get_channel(channel_id: uuid.UUID):
    return _described([_channel(channel_id)])[0]


@bp.route("/<uuid:channel_id>", methods=["PUT", "PATCH"])
@auth_required(*EDITORS)
@bp.arguments(schemas.ChannelUpdateSchema)
@bp.response(200, schemas.ChannelSchema)
def update_channel(data, channel_id: uuid.UUID):
    """Change only what is sent. On SMS/WhatsApp a new number, account, auth token or channel_type
    sets the channel back to `pending_verification` (its numbers released) until verified again."""
    channel = _channel(channel_id)
    if channel.channel_type in twilio_channels.TWILIO_TYPES:
        twilio_channels.update_twilio_channel(
            channel, data.get("channel_name"), data.get("configuration"), data.get("secrets"), data.get("channel_type")
        )
    else:
        twilio_channels.refuse_for_web(data)
        services.update_any_channel(channel, data)
    return _described([channel])[0]


@bp.route("/<uuid:channel_id>", methods=["DELETE"])
@auth_required(*EDITORS)
@bp.response(204)
@bp.alt_response(409, description="The chat widget cannot be removed")
def delete_channel(channel_id: uuid.UUID):
    """Remove an SMS/WhatsApp number: it stops receiving and sending at once and its credentials are
    erased; its outbox and inbound history stay readable (the outbox still names the channel)."""
    twilio_channels.remove(_channel(channel_id))


@bp.route("/<uuid:channel_id>/verify", methods=["POST"])
@auth_required(*EDITORS)
@bp.response(200, schemas.ChannelSchema)
def verify_channel(channel_id: uuid.UUID):
    """Ask Twilio whether the channel's account owns its numbers: active (the numbers are now this channel's),
    or failed with a readable status_reason. A number only one verified channel may hold."""
    channel = _channel(channel_id)
    if channel.channel_type not in twilio_channels.TWILIO_TYPES:
        raise ApiError(409, "Only SMS and WhatsApp channels have credentials to verify.")
    return _described([twilio_channels.verify(channel)])[0]


@bp.route("/<uuid:channel_id>/analytics", methods=["GET"])
@auth_required(*EDITORS)
@bp.arguments(schemas.AnalyticsQuerySchema, location="query")
@bp.response(200, schemas.ChannelAnalyticsSchema)
def channel_analytics(args, channel_id: uuid.UUID):
    """Messages in and out, unique users, new users and a daily breakdown over `days` (30)."""
    return twilio_channels.analytics(_channel(channel_id), args["days"])


@bp.route("/<uuid:channel_id>/embed-code", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, schemas.EmbedCodeSchema)
def embed_code(channel_id: uuid.UUID):
    """The one <script> tag to paste into a web page."""
    channel = _channel(channel_id)
    return {"channel_id": channel.id, "embed_code": services.embed_code(channel)}
