"""SMS and WhatsApp channels through Twilio: numbers, credentials, webhook URLs, verification, analytics.

A Twilio channel's configuration holds its account SID, numbers (E.164) and an
optional messaging service SID; the auth token lives encrypted in
`Channel.encrypted_secrets` and is never returned. Each number becomes a
ChannelAddress ("+1555…" for SMS, "whatsapp:+1555…" for WhatsApp), which is how
inbound webhooks find the channel and its creator.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import distinct, func, select
from twilio.base.exceptions import TwilioException, TwilioRestException

from app.api.errors import ApiError
from app.extensions import db
from app.messaging.crypto import decrypt_secrets, encrypt_secrets
from app.messaging.twilio_api import make_client
from app.models import Channel, ChannelAddress, EndUser, InboundEvent, OutboundMessage
from app.models.base import utcnow

TWILIO_TYPES = ("sms", "whatsapp")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, message, details=[{"field": field, "message": message}])


def clean_configuration(config: dict, partial: bool = False) -> dict:
    """Validate a Twilio channel's configuration; only known keys are kept."""
    out = {}
    if "account_sid" in config or not partial:
        sid = str(config.get("account_sid") or "")
        if not ACCOUNT_SID.match(sid):
            raise _invalid("configuration.account_sid", "An account SID looks like AC followed by 32 hex digits.")
        out["account_sid"] = sid
    if "phone_numbers" in config or not partial:
        numbers = config.get("phone_numbers")
        if not isinstance(numbers, list) or not numbers or len(numbers) > 20:
            raise _invalid("configuration.phone_numbers", "Give 1 to 20 numbers in E.164, like +15551234567.")
        numbers = [str(n).strip().removeprefix("whatsapp:") for n in numbers]
        bad = [n for n in numbers if not E164.match(n)]
        if bad:
            raise _invalid("configuration.phone_numbers", f"Not E.164 (like +15551234567): {', '.join(bad)}")
        out["phone_numbers"] = sorted(set(numbers))
    if config.get("messaging_service_sid"):
        if not SERVICE_SID.match(str(config["messaging_service_sid"])):
            raise _invalid("configuration.messaging_service_sid", "A messaging service SID starts with MG.")
        out["messaging_service_sid"] = config["messaging_service_sid"]
    return out


def _clean_token(secrets: dict | None) -> str:
    token = str((secrets or {}).get("auth_token") or "").strip()
    if not re.fullmatch(r"[0-9a-zA-Z]{16,64}", token):
        raise _invalid("secrets.auth_token", "The auth token is the 32 characters shown in Twilio's console.")
    return token


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


def _set_addresses(channel: Channel, numbers: list[str]) -> None:
    wanted = {address_for(channel.channel_type, n) for n in numbers}
    taken = db.session.scalars(
        select(ChannelAddress.address).where(
            ChannelAddress.address.in_(wanted), ChannelAddress.channel_id != channel.id
        )
    ).all()
    if taken:
        raise ApiError(409, f"Already connected to another channel: {', '.join(sorted(taken))}")
    existing = {
        a.address: a for a in db.session.scalars(select(ChannelAddress).where(ChannelAddress.channel_id == channel.id))
    }
    for address, row in existing.items():
        if address not in wanted:
            db.session.delete(row)
    for address in wanted - set(existing):
        db.session.add(ChannelAddress(creator_id=channel.creator_id, channel_id=channel.id, address=address))


def _commit_addresses() -> None:
    """Two channels racing for one number: the unique constraint decides, the loser gets a 409."""
    from sqlalchemy.exc import IntegrityError

    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise ApiError(409, "That number is already connected to another channel.") from error


def create_twilio_channel(creator_id: uuid.UUID, channel_type: str, name: str, config: dict, secrets: dict) -> Channel:
    configuration = clean_configuration(config)
    configuration["status_callback_url"] = webhook_urls()["status"]
    channel = Channel(
        creator_id=creator_id,
        channel_type=channel_type,
        channel_name=name,
        status="unverified",
        configuration=configuration,
        encrypted_secrets=encrypt_secrets({"auth_token": _clean_token(secrets)}),
    )
    db.session.add(channel)
    db.session.flush()
    _set_addresses(channel, configuration["phone_numbers"])
    _commit_addresses()
    return channel


def update_twilio_channel(channel: Channel, name: str | None, config: dict | None, secrets: dict | None) -> Channel:
    if name:
        channel.channel_name = name
    configuration = dict(channel.configuration or {})
    if config:
        configuration.update(clean_configuration(config, partial=True))
    configuration["status_callback_url"] = webhook_urls()["status"]
    channel.configuration = configuration
    if secrets:
        channel.encrypted_secrets = encrypt_secrets({"auth_token": _clean_token(secrets)})
    if config or secrets:
        channel.status = "unverified"  # new credentials or numbers: verify again
    _set_addresses(channel, configuration["phone_numbers"])
    _commit_addresses()
    return channel


def credentials(channel: Channel) -> tuple[str, str] | None:
    """(account_sid, auth_token), or None when the channel has none usable."""
    token = decrypt_secrets(channel.encrypted_secrets).get("auth_token")
    sid = (channel.configuration or {}).get("account_sid")
    return (sid, token) if sid and token else None


def auth_token(channel: Channel) -> str | None:
    return decrypt_secrets(channel.encrypted_secrets).get("auth_token")


def verify(channel: Channel) -> Channel:
    """Fetch the account with the stored credentials; the channel becomes active or failed with the reason."""
    creds = credentials(channel)
    config = dict(channel.configuration or {})
    if creds is None:
        channel.status, config["status_reason"] = "failed", "No credentials stored: enter the auth token again."
    else:
        try:
            account = make_client(*creds).api.v2010.accounts(creds[0]).fetch()
            if account.status not in (None, "active"):
                channel.status, config["status_reason"] = "failed", f"Twilio account is {account.status}."
            else:
                channel.status, config["status_reason"] = "active", None
        except TwilioRestException as error:
            reason = "Twilio refused the credentials." if error.status in (401, 403) else error.msg
            channel.status, config["status_reason"] = "failed", f"{reason} (HTTP {error.status})"
        except (TwilioException, OSError) as error:
            channel.status, config["status_reason"] = "failed", f"Could not reach Twilio: {error}"
    config["verified_at"] = utcnow().isoformat()
    channel.configuration = config
    db.session.commit()
    return channel


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
