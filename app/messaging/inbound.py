"""Inbound SMS and WhatsApp: signature check, storing each message once, then answering it.

Routing: Twilio's `To` is one of our ChannelAddress rows, which names the
channel and so the creator; the request must be signed with THAT channel's
auth token (X-Twilio-Signature over the URL Flask sees, ProxyFix-aware, and
the form). Anything else fails closed: 403 and nothing stored.

Storing: the InboundEvent is committed first; its unique MessageSid makes a
retried or concurrent duplicate a no-op (the loser's insert raises
IntegrityError). The answer is computed by a job (`process`) so Twilio gets
its 200 at once, whatever the model's latency.

Keywords (the policy): the whole body, trimmed, case-insensitive, with
trailing punctuation (. ! ?) ignored, is compared to the keyword lists: "STOP",
"stop", " Stop! " are STOP; "STOP please" or "please stop" are ordinary text
(as for Twilio's own opt-out handling, so our consent state mirrors the
carrier's) and go to the inbox/assistant like any message. Keywords are never
sent to the AI.
"""

import logging
import re
import uuid

from flask import Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from twilio.request_validator import RequestValidator

from app.assistant import pipeline
from app.assistant import services as assistant
from app.audience.consent import may_send, set_consent
from app.extensions import db
from app.messaging import channels as twilio_channels
from app.messaging import outbox
from app.models import Channel, ChannelAddress, ConversationStatus, Creator, InboundEvent
from app.models.audience import ConsentState
from app.models.base import utcnow

log = logging.getLogger(__name__)

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "YES", "UNSTOP"}
HELP_WORDS = {"HELP", "INFO"}
_TRAILING_PUNCTUATION = re.compile(r"[.!?]+$")


class Rejected(Exception):
    """The request is not a genuine callback for one of our numbers (answer 403, store nothing)."""


def keyword_kind(body: str) -> str:
    """'stop', 'start', 'help' when the whole body is such a keyword, else 'message'."""
    word = _TRAILING_PUNCTUATION.sub("", (body or "").strip()).strip().upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return "message"


def authenticate(request: Request, address: str | None) -> Channel:
    """The channel owning `address` whose auth token signed this request; Rejected otherwise."""
    signature = request.headers.get("X-Twilio-Signature")
    if not signature or not address:
        raise Rejected("missing signature or address")
    channel = db.session.scalar(
        select(Channel)
        .join(ChannelAddress, ChannelAddress.channel_id == Channel.id)
        .where(ChannelAddress.address == address)
    )
    token = twilio_channels.auth_token(channel) if channel is not None else None
    if not token:
        raise Rejected(f"no channel with credentials for {address}")
    if not RequestValidator(token).validate(request.url, request.form, signature):
        raise Rejected(f"bad signature for {address}")
    return channel


def record(channel: Channel, form) -> InboundEvent | None:
    """Store the message once; None when this MessageSid was already stored."""
    event = InboundEvent(
        id=uuid.uuid4(),
        creator_id=channel.creator_id,
        channel_id=channel.id,
        message_sid=form.get("MessageSid") or form.get("SmsSid") or "",
        from_address=form.get("From", "")[:40],
        to_address=form.get("To", "")[:40],
        body=form.get("Body", ""),
        num_media=int(form.get("NumMedia") or 0) if (form.get("NumMedia") or "0").isdigit() else 0,
        kind=keyword_kind(form.get("Body", "")),
    )
    if not event.message_sid:
        raise Rejected("no MessageSid")
    db.session.add(event)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        log.info("duplicate inbound message ignored", extra={"message_sid": event.message_sid})
        return None
    return event


# --- Answering -----------------------------------------------------------------


def _texts(creator: Creator) -> dict:
    name = creator.company_name or creator.full_name
    return {
        "stop": f"{name}: you are unsubscribed and will get no more messages. Reply START to resubscribe.",
        "start": f"{name}: you are subscribed again. Reply HELP for help, STOP to unsubscribe.",
        "help": f"{name}: reply with your question and our assistant answers. Reply STOP to unsubscribe.",
    }


def process(event_id: uuid.UUID) -> None:
    """Answer a stored inbound message once (the job may run twice: processed_at guards it)."""
    event = db.session.get(InboundEvent, event_id)
    if event is None or event.processed_at is not None:
        return
    channel = db.session.get(Channel, event.channel_id)
    phone = event.from_address.removeprefix("whatsapp:")
    user = assistant.get_or_create_end_user(channel.creator_id, channel.channel_type, phone)
    user.phone_e164 = user.phone_e164 or phone
    conversation = assistant.get_or_create_conversation(user, outbox.session_id_for(channel))
    event.end_user_id, event.conversation_id, event.processed_at = user.id, conversation.id, utcnow()
    if event.kind != "message":
        rows = [_keyword(event, channel, user, conversation)]
        db.session.commit()
    elif conversation.status == ConversationStatus.WITH_AGENT or not may_send(user, proactive=False):
        # A human has it, or we may not answer: it lands in the inbox, no AI.
        assistant.add_message(conversation, "user", pipeline.clean(event.body))
        user.last_active_at = utcnow()
        rows = []
        db.session.commit()
    else:
        with outbox.replies_to_outbox(conversation) as rows:
            pipeline.respond(conversation, event.body)  # commits the turn, the event and the outbox row together
    outbox.dispatch(rows)


def _keyword(event, channel, user, conversation):
    assistant.add_message(conversation, "user", event.body.strip())
    creator = db.session.get(Creator, channel.creator_id)
    if event.kind == "stop":
        set_consent(user, ConsentState.STOP, "keyword", event.body.strip()[:200])
    elif event.kind == "start":
        set_consent(user, ConsentState.OPT_IN, "keyword", event.body.strip()[:200])
    text = _texts(creator)[event.kind]
    message = assistant.add_message(conversation, "system", text)
    message.id = uuid.uuid4()
    return outbox.queue_message(channel, user, text, "keyword_reply", conversation, message, event.to_address)
