"""SMS and WhatsApp channels through Twilio: numbers, credentials, webhook URLs, verification, analytics.

A Twilio channel's configuration holds its account SID, numbers (E.164) and an
optional messaging service SID; the auth token (and the source API's
webhook_verify_token) live encrypted in `Channel.encrypted_secrets` and are
never returned. The API takes both the product's shape
(`configuration.phone_numbers`, `secrets.auth_token`) and creator-hub-api.md's
(`configuration.phone_number`, `configuration.access_token`, ...).

A number is claimed only once Twilio confirms the channel's account owns it
(`verify`): then each number becomes a ChannelAddress ("+1555…" for SMS,
"whatsapp:+1555…" for WhatsApp), which is how inbound webhooks find the
channel and its creator. The unique address is what keeps one number on one
verified channel; a pending or failed channel holds no address, so typing
someone else's number into a form blocks nobody.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import delete, distinct, func, select
from sqlalchemy.exc import IntegrityError
from twilio.base.exceptions import TwilioException, TwilioRestException

from app.api.errors import ApiError, not_found
from app.extensions import db
from app.messaging.crypto import decrypt_secrets, encrypt_secrets
from app.messaging.twilio_api import explain, make_client
from app.models import Channel, ChannelAddress, Conversation, EndUser, InboundEvent, OutboundMessage
from app.models.base import utcnow

TWILIO_TYPES = ("sms", "whatsapp")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
SECRET = re.compile(r"^\S{1,256}$")


class Status:
    PENDING = "pending_verification"  # as creator-hub-api.md answers a new channel: claims no number yet
    ACTIVE = "active"  # Twilio confirmed the account owns every number: they are claimed
    FAILED = "failed"  # Twilio said no (credentials, a number not on the account, a number taken)
    REMOVED = "removed"  # kept so the outbox and inbound history still name it; no number, no secrets


# What a Twilio channel's `configuration` may hold on the way in; the rest of the body's
# fields (the widget's) are refused for it rather than dropped.
TWILIO_KEYS = {
    "account_sid",
    "phone_numbers",
    "phone_number",
    "messaging_service_sid",
    "business_account_id",
    "access_token",
    "webhook_verify_token",
}
PUBLIC_KEYS = ("account_sid", "business_account_id", "phone_numbers", "messaging_service_sid")


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, message, details=[{"field": field, "message": message}])


def _numbers(config: dict) -> list[str] | None:
    """The numbers asked for: the product's phone_numbers list or the source's single phone_number."""
    if "phone_numbers" in config and "phone_number" in config:
        raise _invalid("configuration.phone_number", "Give phone_number or phone_numbers, not both.")
    if "phone_number" in config:
        return [config["phone_number"]]
    return config.get("phone_numbers") if "phone_numbers" in config else None


def clean_configuration(config: dict, partial: bool = False) -> dict:
    """Validate a Twilio channel's configuration (either shape); secrets are left to `clean_secrets`."""
    unknown = sorted(set(config) - TWILIO_KEYS)
    if unknown:
        raise _invalid(
            f"configuration.{unknown[0]}", f"Not a setting of an SMS or WhatsApp channel: {', '.join(unknown)}."
        )
    out = {}
    if config.get("business_account_id") is not None:
        business = str(config["business_account_id"]).strip()
        if not 1 <= len(business) <= 200:
            raise _invalid("configuration.business_account_id", "Give the business account id (up to 200 characters).")
        out["business_account_id"] = business
        if ACCOUNT_SID.match(business) and "account_sid" not in config:
            out["account_sid"] = business  # the Twilio account is the business account
    if "account_sid" in config:
        sid = str(config.get("account_sid") or "")
        if not ACCOUNT_SID.match(sid):
            raise _invalid("configuration.account_sid", "An account SID looks like AC followed by 32 hex digits.")
        out["account_sid"] = sid
    numbers = _numbers(config)
    if numbers is not None or not partial:
        field = "configuration.phone_number" if "phone_number" in config else "configuration.phone_numbers"
        if not isinstance(numbers, list) or not numbers or len(numbers) > 20:
            raise _invalid(field, "Give 1 to 20 numbers in E.164, like +15551234567.")
        numbers = [str(n).strip().removeprefix("whatsapp:") for n in numbers]
        bad = [n for n in numbers if not E164.match(n)]
        if bad:
            raise _invalid(field, f"Not E.164 (like +15551234567): {', '.join(bad)}")
        out["phone_numbers"] = sorted(set(numbers))
    if "messaging_service_sid" in config:
        service = config["messaging_service_sid"] or None
        if service is not None and not SERVICE_SID.match(str(service)):
            raise _invalid("configuration.messaging_service_sid", "A messaging service SID starts with MG.")
        out["messaging_service_sid"] = service  # None clears it
    return out


def clean_secrets(config: dict, secrets: dict | None) -> dict:
    """The credentials given: secrets.auth_token or the source's configuration.access_token
    (the same Twilio auth token), and the source's webhook_verify_token."""
    secrets = secrets or {}
    token, access = secrets.get("auth_token"), config.get("access_token")
    if token is not None and access is not None and str(token) != str(access):
        raise _invalid("configuration.access_token", "Give the auth token once: secrets.auth_token or access_token.")
    out = {}
    for field, value, key, hint in (
        (
            "secrets.auth_token" if token is not None else "configuration.access_token",
            token if token is not None else access,
            "auth_token",
            "The auth token is the 32 characters shown in Twilio's console.",
        ),
        (
            "configuration.webhook_verify_token",
            config.get("webhook_verify_token"),
            "webhook_verify_token",
            "The webhook verify token is 1 to 256 characters without spaces.",
        ),
    ):
        if value is None:
            continue
        if not SECRET.match(str(value)):
            raise _invalid(field, hint)
        out[key] = str(value)
    return out


def address_for(channel_type: str, number: str) -> str:
    return f"whatsapp:{number}" if channel_type == "whatsapp" else number


def webhook_urls() -> dict:
    """The URLs to paste into Twilio, as this request reaches us (ProxyFix-aware) or PUBLIC_BASE_URL."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        base = base.rstrip("/")
        return {"inbound": base + url_for("webhooks.inbound"), "status": base + url_for("webhooks.status")}
    return {
        "inbound": url_for("webhooks.inbound", _external=True),
        "status": url_for("webhooks.status", _external=True),
    }


# --- Finding channels --------------------------------------------------------------


def channels_query(creator_id: uuid.UUID):
    """The creator's channels as the API and the Channels page list them: removed ones are history only."""
    return (
        select(Channel)
        .where(Channel.creator_id == creator_id, Channel.status != Status.REMOVED)
        .order_by(Channel.created_at)
    )


def get_channel(creator_id: uuid.UUID, channel_id: uuid.UUID) -> Channel:
    """The creator's channel; another creator's, or a removed one, is a 404."""
    channel = db.session.scalar(channels_query(creator_id).where(Channel.id == channel_id))
    if channel is None:
        raise not_found("Channel")
    return channel


# --- Create, edit, remove ------------------------------------------------------------


def create_twilio_channel(
    creator_id: uuid.UUID, channel_type: str, name: str, config: dict, secrets: dict | None = None
) -> Channel:
    """A new number, pending until `verify`: it claims nothing, so it blocks nobody."""
    configuration = clean_configuration(config)
    new_secrets = clean_secrets(config, secrets)
    if "auth_token" not in new_secrets:
        raise _invalid("secrets.auth_token", "A Twilio channel needs its auth token: secrets.auth_token.")
    configuration["status_callback_url"] = webhook_urls()["status"]
    channel = Channel(
        creator_id=creator_id,
        channel_type=channel_type,
        channel_name=name,
        status=Status.PENDING,
        configuration={k: v for k, v in configuration.items() if v is not None},
        encrypted_secrets=encrypt_secrets(new_secrets),
    )
    db.session.add(channel)
    db.session.commit()
    return channel


def update_twilio_channel(
    channel: Channel,
    name: str | None,
    config: dict | None,
    secrets: dict | None,
    channel_type: str | None = None,
) -> Channel:
    """Edit name, numbers, credentials or SMS/WhatsApp. Anything that changes which number on which
    account this is releases the numbers and waits for `verify` again; the rest keeps them."""
    config = config or {}
    changes = clean_configuration(config, partial=True)
    new_secrets = clean_secrets(config, secrets)
    if channel_type is not None and channel_type not in TWILIO_TYPES:
        raise _invalid("channel_type", "An SMS channel can become a WhatsApp one and back, nothing else.")
    before = dict(channel.configuration or {})
    stored = decrypt_secrets(channel.encrypted_secrets)
    reclaim = (
        any(changes.get(k, before.get(k)) != before.get(k) for k in ("account_sid", "phone_numbers"))
        or new_secrets.get("auth_token", stored.get("auth_token")) != stored.get("auth_token")
        or (channel_type or channel.channel_type) != channel.channel_type
    )
    if name:
        channel.channel_name = name
    if channel_type:
        channel.channel_type = channel_type
    configuration = {**before, **changes, "status_callback_url": webhook_urls()["status"]}
    channel.configuration = {k: v for k, v in configuration.items() if v is not None}
    if new_secrets:
        channel.encrypted_secrets = encrypt_secrets({**stored, **new_secrets})
    if reclaim:
        _release(channel)
        _set_status(channel, Status.PENDING, None)
    db.session.commit()
    return channel


def refuse_for_web(data: dict) -> None:
    """A body for the chat widget carrying Twilio settings is a mistake to report, not to drop."""
    stray = sorted(set(data.get("configuration") or {}) & TWILIO_KEYS)
    if stray or data.get("secrets"):
        field = f"configuration.{stray[0]}" if stray else "secrets"
        raise _invalid(field, "The chat widget has no number or Twilio credentials; create an SMS or WhatsApp channel.")
    if data.get("channel_type") not in (None, "web"):
        raise _invalid(
            "channel_type", "The chat widget stays a web channel; create an SMS or WhatsApp channel instead."
        )


def remove(channel: Channel) -> None:
    """Remove a Twilio number: its numbers are released and its credentials erased at once, while
    the row stays (status removed, hidden from lists) so the outbox and inbound history keep their channel."""
    if channel.channel_type not in TWILIO_TYPES:
        raise ApiError(409, "Only SMS and WhatsApp channels can be removed.")
    _release(channel)
    channel.encrypted_secrets = None
    _set_status(channel, Status.REMOVED, None)
    channel.configuration = {**(channel.configuration or {}), "removed_at": utcnow().isoformat()}
    db.session.commit()


# --- Credentials and verification ------------------------------------------------------


def credentials(channel: Channel) -> tuple[str, str] | None:
    """(account_sid, auth_token), or None when the channel has none usable."""
    token = decrypt_secrets(channel.encrypted_secrets).get("auth_token")
    sid = (channel.configuration or {}).get("account_sid")
    return (sid, token) if sid and token else None


def auth_token(channel: Channel) -> str | None:
    return decrypt_secrets(channel.encrypted_secrets).get("auth_token")


def _set_status(channel: Channel, status: str, reason: str | None) -> None:
    channel.status = status
    channel.configuration = {**(channel.configuration or {}), "status_reason": reason}


def _release(channel: Channel) -> None:
    db.session.execute(delete(ChannelAddress).where(ChannelAddress.channel_id == channel.id))


class NotVerified(Exception):
    """Twilio (or the channel's own settings) says no: the reason is for the creator."""


def _check_with_twilio(channel: Channel) -> None:
    """Raise NotVerified unless Twilio confirms the credentials and that the account owns every number."""
    creds = credentials(channel)
    if creds is None:
        if not (channel.configuration or {}).get("account_sid"):
            raise NotVerified("Add the Twilio account SID (AC followed by 32 hex digits) to verify this number.")
        raise NotVerified("No auth token stored: enter the auth token again.")
    account = make_client(*creds).api.v2010.accounts(creds[0])
    status = account.fetch().status
    if status not in (None, "active"):
        raise NotVerified(f"The Twilio account is {status}.")
    for number in channel.configuration["phone_numbers"]:
        # Twilio matches PhoneNumber partially: only an exact match proves ownership.
        owned = account.incoming_phone_numbers.list(phone_number=number, limit=50)
        if not any(n.phone_number == number for n in owned):
            raise NotVerified(f"{number} is not a number of this Twilio account.")


def _taken(channel: Channel) -> str | None:
    """Why a number cannot be claimed: only the creator's own channels are named, never another tenant's."""
    wanted = [address_for(channel.channel_type, n) for n in channel.configuration["phone_numbers"]]
    holder = db.session.execute(
        select(ChannelAddress.address, Channel.creator_id, Channel.channel_name)
        .join(Channel, Channel.id == ChannelAddress.channel_id)
        .where(ChannelAddress.address.in_(wanted), ChannelAddress.channel_id != channel.id)
        .limit(1)
    ).first()
    if holder is None:
        return None
    number = holder.address.removeprefix("whatsapp:")
    if holder.creator_id == channel.creator_id:
        return f"{number} is already connected to your channel “{holder.channel_name}”: remove it there first."
    return f"{number} is already connected to another Creator Hub workspace."


def _claim(channel: Channel) -> str | None:
    """Claim the channel's numbers; the reason when one is taken (the unique address decides races)."""
    reason = _taken(channel)
    if reason:
        return reason
    _release(channel)
    for number in channel.configuration["phone_numbers"]:
        address = address_for(channel.channel_type, number)
        db.session.add(ChannelAddress(creator_id=channel.creator_id, channel_id=channel.id, address=address))
    try:
        db.session.flush()
    except IntegrityError:
        return "One of these numbers was just connected to another channel."
    return None


def verify(channel: Channel) -> Channel:
    """Ask Twilio whether the channel's account owns its numbers; if so claim them (active), if not
    release them (failed, with the reason). When Twilio cannot be reached nothing changes but the reason."""
    try:
        _check_with_twilio(channel)
    except NotVerified as refusal:
        _release(channel)
        _set_status(channel, Status.FAILED, str(refusal))
    except TwilioRestException as error:
        _release(channel)
        _set_status(channel, Status.FAILED, explain(error))
    except (TwilioException, OSError) as error:
        current_app.logger.warning("twilio verification could not complete: %s", error)
        _set_status(channel, channel.status, explain(error))
    else:
        reason = _claim(channel)
        if reason:
            db.session.rollback()
            db.session.refresh(channel)
            _release(channel)
        _set_status(channel, Status.FAILED if reason else Status.ACTIVE, reason)
        verified_at = utcnow().isoformat(timespec="seconds").replace("+00:00", "Z")
        channel.configuration = {**channel.configuration, "verified_at": verified_at}
    db.session.commit()
    return channel


def missing_sender_reason(creator_id: uuid.UUID, channel_type: str) -> str:
    """Why nothing can be sent on SMS/WhatsApp: no number yet, or numbers Twilio has not confirmed."""
    label = "a WhatsApp" if channel_type == "whatsapp" else "an SMS"
    unverified = db.session.scalar(
        select(Channel.channel_name)
        .where(
            Channel.creator_id == creator_id,
            Channel.channel_type == channel_type,
            Channel.status.in_((Status.PENDING, Status.FAILED)),
        )
        .limit(1)
    )
    if unverified:
        return f"Verify the number of “{unverified}” first (Channels): messages go out only from a verified number."
    return f"Connect {label} number first (Channels)."


def claim_numbers(channel: Channel) -> Channel:
    """Mark a channel verified without asking Twilio: for benchmarks and seeds that own their setup."""
    reason = _claim(channel)
    if reason:
        raise ApiError(409, reason)
    _set_status(channel, Status.ACTIVE, None)
    db.session.commit()
    return channel


# --- How the API shows a channel ------------------------------------------------------


def describe(channel: Channel) -> dict:
    """A Twilio channel as the API shows it: never a secret; the source's phone_number and webhook_url too."""
    config = channel.configuration or {}
    public = {k: config[k] for k in PUBLIC_KEYS if config.get(k) is not None}
    numbers = config.get("phone_numbers") or []
    urls = webhook_urls()
    public |= {"phone_number": numbers[0] if numbers else None, "webhook_url": urls["inbound"]}
    return {
        "id": channel.id,
        "channel_type": channel.channel_type,
        "channel_name": channel.channel_name,
        "status": channel.status,
        "status_reason": config.get("status_reason"),
        "public_configuration": public,
        "has_credentials": credentials(channel) is not None,
        "webhook_urls": urls,
        "verified_at": config.get("verified_at") if channel.status == Status.ACTIVE else None,
        "created_at": channel.created_at,
        "updated_at": channel.updated_at,
    }


def activity(creator_id: uuid.UUID, channels: list[Channel]) -> dict[uuid.UUID, dict]:
    """user_count and last_activity_at per channel, from its conversations: an SMS/WhatsApp
    conversation names its channel ("twilio:<id>"); web conversations are the creator's widget's."""
    from app.messaging.outbox import SESSION_PREFIX  # outbox imports this module

    sessions = {f"{SESSION_PREFIX}{c.id}": c.id for c in channels if c.channel_type in TWILIO_TYPES}
    stats = {c.id: {"user_count": 0, "last_activity_at": None} for c in channels}
    count, last = func.count(distinct(Conversation.end_user_id)), func.max(Conversation.last_message_at)
    if sessions:
        rows = db.session.execute(
            select(Conversation.session_id, count, last)
            .where(Conversation.creator_id == creator_id, Conversation.session_id.in_(list(sessions)))
            .group_by(Conversation.session_id)
        )
        for session_id, users, at in rows:
            stats[sessions[session_id]] = {"user_count": users, "last_activity_at": at}
    web = [c.id for c in channels if c.channel_type == "web"]
    if web:
        users, at = db.session.execute(
            select(count, last).where(Conversation.creator_id == creator_id, Conversation.channel == "web")
        ).one()
        for channel_id in web:
            stats[channel_id] = {"user_count": users or 0, "last_activity_at": at}
    return stats


def analytics(channel: Channel, days: int = 30) -> dict:
    """Messages in and out, unique and new users, per day, from the channel's rows."""
    since = utcnow() - timedelta(days=days)
    inbound = (InboundEvent.channel_id == channel.id) & (InboundEvent.received_at >= since)
    outbound = (OutboundMessage.channel_id == channel.id) & (OutboundMessage.created_at >= since)
    users = db.session.scalar(select(func.count(distinct(InboundEvent.end_user_id))).where(inbound)) or 0
    new_users = (
        db.session.scalar(
            select(func.count(distinct(EndUser.id)))
            .join(InboundEvent, InboundEvent.end_user_id == EndUser.id)
            .where(inbound, EndUser.created_at >= since)
        )
        or 0
    )
    daily: dict[str, dict] = {}
    for (at,) in db.session.execute(select(InboundEvent.received_at).where(inbound)):
        daily.setdefault(at.date().isoformat(), {"inbound": 0, "outbound": 0})["inbound"] += 1
    for (at,) in db.session.execute(select(OutboundMessage.created_at).where(outbound)):
        daily.setdefault(at.date().isoformat(), {"inbound": 0, "outbound": 0})["outbound"] += 1
    total_in = sum(d["inbound"] for d in daily.values())
    total_out = sum(d["outbound"] for d in daily.values())
    return {
        "channel_id": channel.id,
        "period_days": days,
        "messages": {"inbound": total_in, "outbound": total_out, "total": total_in + total_out},
        "unique_users": users,
        "new_users": new_users,
        "daily": [{"date": day, **counts} for day, counts in sorted(daily.items())],
        "generated_at": datetime.now(UTC),
    }
