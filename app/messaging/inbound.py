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

Programs: a message that is a published program's enroll keyword (same
whole-body rule) enrolls the sender, their opt-in; a message that answers a
program's waiting question moves the program on. Neither reaches the AI.
"""

import logging
import uuid

from flask import Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from twilio.request_validator import RequestValidator

from app.api.errors import ApiError
from app.assistant import pipeline
from app.assistant import services as assistant
from app.audience.consent import keyword_kind, may_send, set_consent
from app.extensions import db
from app.messaging import channels as twilio_channels
from app.messaging import outbox
from app.models import Channel, ChannelAddress, ConversationStatus, Creator, InboundEvent
from app.models.audience import ConsentState
from app.models.base import utcnow

log = logging.getLogger(__name__)


class Rejected(Exception):
    """The request is not a genuine callback for one of our numbers (answer 403, store nothing)."""


def authenticate(request: Request, address: str | None) -> Channel:
    """The channel owning `address` whose auth token signed this request; Rejected otherwise."""
    signature = request.headers.get("X-Twilio-Signature")
    if not signature or not address or "\x00" in address:  # no number holds a NUL (PostgreSQL could not look it up)
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
    form = {key: value.replace("\x00", "") for key, value in form.items()}  # text PostgreSQL can store
    num_media = form.get("NumMedia") or "0"
    event = InboundEvent(
        id=uuid.uuid4(),
        creator_id=channel.creator_id,
        channel_id=channel.id,
        message_sid=form.get("MessageSid") or form.get("SmsSid") or "",
        from_address=form.get("From", "")[:40],
        to_address=form.get("To", "")[:40],
        body=form.get("Body", ""),
        num_media=min(int(num_media), 100) if num_media.isdigit() else 0,  # Twilio allows 10
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
    from app.programs import engine  # not at the top: app.programs.services imports this module
    from app.programs import services as programs

    event = db.session.get(InboundEvent, event_id)
    if event is None or event.processed_at is not None:
        return
    channel = db.session.get(Channel, event.channel_id)
    phone = event.from_address.removeprefix("whatsapp:")
    user, new_user = assistant.end_user_for(channel.creator_id, channel.channel_type, phone)
    user.phone_e164 = user.phone_e164 or phone
    conversation = assistant.get_or_create_conversation(user, outbox.session_id_for(channel))
    event.end_user_id, event.conversation_id, event.processed_at = user.id, conversation.id, utcnow()
    program = programs.program_for_keyword(channel.creator_id, event.body) if event.kind == "message" else None
    answered = None
    if event.kind != "message":
        rows = [_keyword(event, channel, user, conversation)]
        db.session.commit()
    elif program is not None and may_send(user, proactive=False):
        rows = _join(event, channel, user, conversation, program)
    elif conversation.status == ConversationStatus.WITH_AGENT or not may_send(user, proactive=False):
        # A human has it, or we may not answer: it lands in the inbox, no AI.
        assistant.add_message(conversation, "user", pipeline.clean(event.body))
        user.last_active_at = utcnow()
        rows = []
        db.session.commit()
    elif (answered := engine.take_answer(conversation, pipeline.clean(event.body))) is not None:
        rows = []  # it answered a program's question (committed with the event): the program replies
    else:
        with outbox.replies_to_outbox(conversation) as rows:
            pipeline.respond(conversation, event.body)  # commits the turn, the event and the outbox row together
    outbox.dispatch(rows)
    if answered is not None:
        engine.after_commit(answered)
    if new_user:  # programs with auto_enroll (they reach only users who opted in)
        programs.auto_enroll(user)


def _join(event, channel, user, conversation, program) -> list:
    """Texting a program's keyword asks to join it, so it is the sender's opt-in; the program's
    first message is the answer. Someone already in it is told so."""
    from app.programs import services as programs

    keyword = event.body.strip()[:200]
    assistant.add_message(conversation, "user", keyword)
    user.last_active_at = utcnow()
    set_consent(user, ConsentState.OPT_IN, "keyword", keyword)
    db.session.commit()  # the message and the opt-in stand whatever the enrollment does
    try:
        programs.enroll(user, program, "keyword", channel.channel_type)  # commits, and starts the first step
        return []
    except ApiError as error:
        db.session.rollback()
        if error.code != 409:  # the program cannot reach them here: the message stays in the inbox
            log.warning("keyword enrollment refused", extra={"program": str(program.id), "reason": error.description})
            return []
    text = f"You're already in {program.name}."
    message = assistant.add_message(conversation, "system", text)
    message.id = uuid.uuid4()
    row = outbox.queue_message(channel, user, text, "keyword_reply", conversation, message, event.to_address)
    db.session.commit()
    return [row]


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
