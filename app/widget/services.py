"""Channels: the web widget (configuration, embed code, visitor tokens, origin checks),
and the SMS/WhatsApp ones, whose Twilio specifics live in app/messaging/channels.py."""

import secrets
import uuid
from urllib.parse import urlsplit

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from marshmallow import ValidationError
from sqlalchemy import select

from app.api.errors import ApiError
from app.extensions import db
from app.messaging import channels as twilio_channels
from app.models import Channel
from app.models.channels import WIDGET_DEFAULTS
from app.tenancy import get_for_creator
from app.widget.schemas import WidgetConfigSchema

CONFIG_KEYS = tuple(WIDGET_DEFAULTS)


def channels_query(creator_id: uuid.UUID):
    return select(Channel).where(Channel.creator_id == creator_id).order_by(Channel.created_at)


def get_channel(creator_id: uuid.UUID, channel_id: uuid.UUID) -> Channel:
    return get_for_creator(Channel, creator_id, channel_id, "Channel")


def create_channel(creator_id: uuid.UUID, data: dict) -> Channel:
    """POST /channels: a web widget, or an SMS/WhatsApp number on the creator's Twilio account."""
    if data["channel_type"] == "web":
        return create_web_channel(creator_id, data["channel_name"], _widget_config(data.get("configuration")))
    if not data.get("secrets"):
        raise ApiError(422, "A Twilio channel needs secrets.auth_token.", details=[{"field": "secrets.auth_token"}])
    return twilio_channels.create_twilio_channel(
        creator_id, data["channel_type"], data["channel_name"], data.get("configuration") or {}, data["secrets"]
    )


def update_any_channel(channel: Channel, data: dict) -> Channel:
    if channel.channel_type in twilio_channels.TWILIO_TYPES:
        return twilio_channels.update_twilio_channel(
            channel, data.get("channel_name"), data.get("configuration"), data.get("secrets")
        )
    return update_channel(channel, data.get("channel_name"), _widget_config(data.get("configuration")))


def _widget_config(configuration: dict | None) -> dict | None:
    if configuration is None:
        return None
    try:
        return WidgetConfigSchema().load(configuration)
    except ValidationError as error:
        details = [{"field": f"configuration.{k}", "message": " ".join(map(str, v))} for k, v in error.messages.items()]
        raise ApiError(422, "The widget configuration is not valid.", details=details) from error


def describe(channel: Channel) -> dict:
    """A channel as the API shows it: never its secrets; Twilio channels with their webhook URLs."""
    config = dict(channel.widget if channel.channel_type == "web" else channel.configuration or {})
    twilio = channel.channel_type in twilio_channels.TWILIO_TYPES
    reason = config.pop("status_reason", None)
    config.pop("status_callback_url", None)
    return {
        "id": channel.id,
        "channel_type": channel.channel_type,
        "channel_name": channel.channel_name,
        "status": channel.status,
        "status_reason": reason,
        "public_configuration": config,
        "has_credentials": bool(twilio and twilio_channels.credentials(channel)),
        "webhook_urls": twilio_channels.webhook_urls() if twilio else None,
        "created_at": channel.created_at,
    }


def create_web_channel(creator_id: uuid.UUID, name: str, configuration: dict | None = None) -> Channel:
    channel = Channel(
        creator_id=creator_id, channel_type="web", channel_name=name, configuration=_clean_config(configuration or {})
    )
    db.session.add(channel)
    db.session.commit()
    return channel


def update_channel(channel: Channel, name: str | None, configuration: dict | None) -> Channel:
    if name:
        channel.channel_name = name
    if configuration:
        channel.configuration = {**(channel.configuration or {}), **_clean_config(configuration)}
    db.session.commit()
    return channel


def _clean_config(configuration: dict) -> dict:
    config = {k: v for k, v in configuration.items() if k in CONFIG_KEYS}
    if "allowed_origins" in config:
        config["allowed_origins"] = sorted({normalize_origin(o) for o in config["allowed_origins"] or []})
    return config


def normalize_origin(origin: str) -> str:
    """`https://Example.com/path` -> `https://example.com`; invalid origins are a 422."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(
            422,
            f"{origin!r} is not an origin like https://example.com.",
            details=[{"field": "configuration.allowed_origins", "message": "Not an http(s) origin."}],
        )
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def origin_allowed(channel: Channel, origin: str | None) -> bool:
    """An empty list means the creator has not restricted where the widget runs."""
    allowed = channel.widget["allowed_origins"]
    if not allowed:
        return True
    if not origin:
        return False
    try:
        return normalize_origin(origin) in allowed
    except ApiError:
        return False


def embed_code(channel: Channel) -> str:
    script = url_for("static", filename="widget/widget.js", _external=True)
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        script = base.rstrip("/") + url_for("static", filename="widget/widget.js")
    return f'<script src="{script}" data-channel="{channel.id}" defer></script>'


# --- Visitor tokens: short-lived, signed, bound to one channel -----------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="widget-visitor")


def active_web_channel(channel_id: uuid.UUID) -> Channel | None:
    """The channel a widget may talk to: a web channel that is active."""
    channel = db.session.get(Channel, channel_id)
    if channel is None or channel.channel_type != "web" or channel.status != "active":
        return None
    return channel


def start_visitor_session(channel: Channel, body) -> dict:
    """POST /widget/<id>/session: the visitor's id, the credential that resumes them, and a socket token.

    The id is always the server's: a visitor comes back only with a credential this server signed
    for this channel, so knowing (or guessing) someone's id opens nothing.
    """
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    credential = body.get("visitor_credential")
    if credential is not None and not isinstance(credential, str):
        raise ApiError(
            422,
            "visitor_credential must be the string the widget was given.",
            details=[{"field": "visitor_credential", "message": "Not a string."}],
        )
    visitor_id = resume_visitor(channel, credential) or new_visitor_id()
    return {
        "visitor_id": visitor_id,
        "visitor_credential": visitor_credential(channel, visitor_id),  # renewed on every visit
        "token": visitor_token(channel, visitor_id),
        "expires_in": current_app.config["WIDGET_TOKEN_TTL_SECONDS"],
        "socket_path": f"/widget/ws/{channel.id}",
    }


def new_visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(18)


# The widget keeps its credential in localStorage and gets a fresh one on each visit,
# so only a visitor away for this long starts over.
VISITOR_CREDENTIAL_MAX_AGE = 365 * 24 * 3600


def _credentials() -> URLSafeTimedSerializer:
    # A salt of its own: a socket token is no credential, nor the reverse.
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="widget-visitor-credential")


def visitor_credential(channel: Channel, visitor_id: str) -> str:
    return _credentials().dumps({"c": str(channel.id), "v": visitor_id})


def resume_visitor(channel: Channel, credential: str | None) -> str | None:
    """The visitor id a valid credential of this channel names; None for anything else
    (missing, forged, expired, another channel's, or a bare id kept by an older widget)."""
    if not credential or not credential.isascii():  # what we sign is ASCII; a lone surrogate would not even encode
        return None
    try:
        data = _credentials().loads(credential, max_age=VISITOR_CREDENTIAL_MAX_AGE)
    except BadSignature:  # SignatureExpired included
        return None
    if not isinstance(data, dict) or data.get("c") != str(channel.id) or not isinstance(data.get("v"), str):
        return None
    return data["v"]


def visitor_token(channel: Channel, visitor_id: str) -> str:
    return _serializer().dumps({"c": str(channel.id), "v": visitor_id})


def read_visitor_token(token: str | None, channel_id: uuid.UUID) -> str:
    """The visitor id in a valid token for this channel; ApiError(401) otherwise."""
    if not token:
        raise ApiError(401, "A visitor token is required.")
    if not token.isascii():
        raise ApiError(401, "The visitor token is invalid.")
    try:
        data = _serializer().loads(token, max_age=current_app.config["WIDGET_TOKEN_TTL_SECONDS"])
    except SignatureExpired as error:
        raise ApiError(401, "The visitor token has expired.") from error
    except BadSignature as error:
        raise ApiError(401, "The visitor token is invalid.") from error
    if data.get("c") != str(channel_id):
        raise ApiError(401, "The visitor token belongs to another channel.")
    return data["v"]
