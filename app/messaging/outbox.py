"""The outbox: every SMS/WhatsApp message we send, written with its conversation, sent by a job.

Life of a row (app/models/messaging.py, OutboxStatus):
- `queue_message` adds it in the caller's transaction (the conversation message
  and the outbox row commit together or not at all); `dispatch` enqueues the
  send on the `outbound` queue once committed.
- `send` (the job) checks consent, then claims the row with one
  `UPDATE … WHERE status='queued'` so two workers never both send it, then
  calls Twilio with the real client. 429/5xx/network errors put it back to
  `queued` with `next_attempt_at` (backoff) and a delayed job; 21610 (the
  number opted out at the carrier) opts the user out; other 4xx fail it.
- A row left in `sending` (the worker died during the call, outcome unknown) is
  reconciled by `reconcile`: claimed by one sweeper, looked up at Twilio by
  to/from/body/time, adopted if Twilio has it, requeued only if Twilio has no
  trace of it. The periodic sweep (tasks.sweep_outbox) finds such rows, and
  queued rows whose job was lost.
- Status callbacks (`apply_status`) only move a row forward.
"""

import logging
import uuid
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from sqlalchemy import event, select, update
from twilio.base.exceptions import TwilioException, TwilioRestException

from app.audience.consent import may_send, set_consent
from app.extensions import db
from app.messaging import channels as twilio_channels
from app.messaging.twilio_api import TIMEOUT_SECONDS, explain, make_client
from app.models import Channel, ChannelAddress, Conversation, EndUser, InboundEvent, Message, OutboundMessage
from app.models.audience import ConsentState
from app.models.base import utcnow
from app.models.messaging import OutboxStatus

log = logging.getLogger(__name__)

SESSION_PREFIX = "twilio:"  # conversation.session_id of an SMS/WhatsApp conversation: "twilio:<channel id>"
PROACTIVE_SOURCES = ("campaign", "program")  # we start these: OPT_IN only
# Carriers require the STOP confirmation and the HELP answer even to someone opted out.
CONSENT_EXEMPT_SOURCES = ("keyword_reply",)
NO_CREDENTIALS = "not sent: no Twilio credentials"
MAX_ATTEMPTS = 6
STALE_SENDING = timedelta(seconds=TIMEOUT_SECONDS * 3)  # past this a 'sending' row's worker is gone
RANK = {
    OutboxStatus.QUEUED: 0,
    OutboxStatus.SENDING: 1,
    "accepted": 2,
    "scheduled": 2,
    OutboxStatus.SENT: 3,
    OutboxStatus.DELIVERED: 4,
    OutboxStatus.READ: 5,
}
TWILIO_FINAL = (OutboxStatus.UNDELIVERED, OutboxStatus.FAILED)


def session_id_for(channel: Channel) -> str:
    return f"{SESSION_PREFIX}{channel.id}"


def channel_of(conversation: Conversation) -> Channel | None:
    """The Twilio channel an SMS/WhatsApp conversation runs on, else None."""
    if conversation.channel not in twilio_channels.TWILIO_TYPES or not conversation.session_id.startswith(
        SESSION_PREFIX
    ):
        return None
    try:
        channel_id = uuid.UUID(conversation.session_id.removeprefix(SESSION_PREFIX))
    except ValueError:
        return None
    channel = db.session.get(Channel, channel_id)
    return channel if channel is not None and channel.creator_id == conversation.creator_id else None


def _from_address(channel: Channel, conversation: Conversation) -> str | None:
    """Answer from the number the user last wrote to; else the channel's first number."""
    last = db.session.scalar(
        select(InboundEvent.to_address)
        .where(InboundEvent.conversation_id == conversation.id)
        .order_by(InboundEvent.received_at.desc())
        .limit(1)
    )
    return last or db.session.scalar(
        select(ChannelAddress.address).where(ChannelAddress.channel_id == channel.id).order_by(ChannelAddress.address)
    )


def queue_message(
    channel: Channel, end_user: EndUser, body: str, source: str, conversation=None, message=None, from_address=None
) -> OutboundMessage:
    """Add an outbox row to the current transaction (the caller commits, then calls `dispatch`)."""
    to = twilio_channels.address_for(channel.channel_type, end_user.phone_e164 or end_user.external_id)
    if from_address is None and conversation is not None:
        from_address = _from_address(channel, conversation)
    row = OutboundMessage(
        id=uuid.uuid4(),
        creator_id=channel.creator_id,
        channel_id=channel.id,
        end_user_id=end_user.id,
        conversation_id=conversation.id if conversation is not None else None,
        message_id=message.id if message is not None else None,
        source=source,
        to_address=to,
        from_address=from_address,
        body=body,
        status=OutboxStatus.QUEUED,
    )
    db.session.add(row)
    return row


def queue_reply(conversation: Conversation, message: Message, source: str) -> OutboundMessage | None:
    """The outbox row for a conversation message on SMS/WhatsApp (None on other channels)."""
    channel = channel_of(conversation)
    if channel is None:
        return None
    if message.id is None:
        message.id = uuid.uuid4()
    return queue_message(channel, conversation.end_user, message.content, source, conversation, message)


@contextmanager
def replies_to_outbox(conversation: Conversation, source: str = "ai_reply"):
    """While open, every AI message added to `conversation` gets its outbox row in the same flush,
    hence the same transaction (the pipeline commits the turn itself). Yields the rows queued."""
    queued: list[OutboundMessage] = []
    session = db.session()

    def before_flush(session, flush_context, instances):
        for obj in list(session.new):
            if isinstance(obj, Message) and obj.conversation_id == conversation.id and obj.sender == "ai":
                if not any(row.message_id == obj.id for row in queued):
                    row = queue_reply(conversation, obj, source)
                    if row is not None:
                        queued.append(row)

    event.listen(session, "before_flush", before_flush)
    try:
        yield queued
    finally:
        event.remove(session, "before_flush", before_flush)


def dispatch(rows) -> None:
    """After commit: one send job per row on the `outbound` queue."""
    from app.jobs import enqueue
    from app.messaging.tasks import send_outbound

    for row in rows if isinstance(rows, list | tuple) else [rows]:
        if row is not None:
            enqueue(send_outbound, str(row.id), queue="outbound", job_id=send_job_id(row))


# --- Sending -----------------------------------------------------------------


def _finish(row: OutboundMessage, status: str, code=None, message=None) -> None:
    row.status, row.error_code, row.error_message = status, code, (message or "")[:500] or None
    row.status_updated_at = utcnow()
    row.next_attempt_at = None
    db.session.commit()


def _claim(row_id: uuid.UUID) -> bool:
    """queued -> sending, for one worker only."""
    result = db.session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == row_id, OutboundMessage.status == OutboxStatus.QUEUED)
        .values(
            status=OutboxStatus.SENDING,
            attempts=OutboundMessage.attempts + 1,
            status_updated_at=utcnow(),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def send(row_id: uuid.UUID) -> str | None:
    """Send one outbox row if it is still queued and due; returns its status afterwards."""
    row = db.session.get(OutboundMessage, row_id)
    if row is None or row.status != OutboxStatus.QUEUED:
        return row.status if row else None
    if row.next_attempt_at and row.next_attempt_at > utcnow():
        return row.status  # a delayed job is scheduled for it
    user = db.session.get(EndUser, row.end_user_id) if row.end_user_id else None
    if user is None:
        _finish(row, OutboxStatus.FAILED, message="the user no longer exists")
        return row.status
    if row.source not in CONSENT_EXEMPT_SOURCES and not may_send(user, proactive=row.source in PROACTIVE_SOURCES):
        _finish(row, OutboxStatus.BLOCKED, message=f"consent is {user.consent_state}")
        return row.status
    channel = db.session.get(Channel, row.channel_id) if row.channel_id else None
    creds = twilio_channels.credentials(channel) if channel is not None else None
    if creds is None:
        _finish(row, OutboxStatus.NOT_SENT, message=NO_CREDENTIALS)
        return row.status
    if not _claim(row.id):
        return None  # another worker has it
    db.session.refresh(row)
    _call_twilio(row, channel, user, creds)
    return row.status


def _call_twilio(row: OutboundMessage, channel: Channel, user: EndUser, creds) -> None:
    params = {"to": row.to_address, "body": row.body}
    config = channel.configuration or {}
    if config.get("status_callback_url"):
        params["status_callback"] = config["status_callback_url"]
    if config.get("messaging_service_sid") and not row.from_address:
        params["messaging_service_sid"] = config["messaging_service_sid"]
    else:
        params["from_"] = row.from_address
    try:
        message = make_client(*creds).messages.create(**params)
    except TwilioRestException as error:
        _handle_error(row, user, error.status, str(error.code or error.status), error.msg)
    except (TwilioException, OSError) as error:  # network: the outcome is unknown, see _retry_unknown
        # The creator reads a sentence; the raw error stays in the log for whoever runs the server.
        log.warning("twilio send failed", extra={"outbound_id": str(row.id), "error": str(error)[:500]})
        _retry_unknown(row, explain(error))
    else:
        row.provider_sid = message.sid
        row.sent_at = row.status_updated_at = utcnow()
        row.status = OutboxStatus.SENT  # Twilio has it ("queued" at Twilio is "sent" here)
        _advance(row, message.status or OutboxStatus.SENT)
        row.error_code = row.error_message = None
        db.session.commit()


def _handle_error(row: OutboundMessage, user: EndUser, http_status: int, code: str, text: str) -> None:
    if http_status == 429 or http_status >= 500:
        _retry(row, code, text)
    elif code == "21610":
        if user.consent_state not in (ConsentState.STOP, ConsentState.OPT_OUT):
            set_consent(user, ConsentState.OPT_OUT, "twilio_21610", "Twilio: the recipient has opted out")
        _finish(row, OutboxStatus.FAILED, code, text)
    else:
        _finish(row, OutboxStatus.FAILED, code, text)


def _backoff(attempts: int) -> timedelta:
    base = float(current_app.config["OUTBOX_RETRY_BASE_SECONDS"])
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 3600))


def _retry(row: OutboundMessage, code: str | None, text: str) -> None:
    """Back to queued with a delay, on the same row; failed after MAX_ATTEMPTS."""
    if row.attempts >= MAX_ATTEMPTS:
        _finish(row, OutboxStatus.FAILED, code, f"gave up after {row.attempts} attempts: {text}")
        return
    delay = _backoff(row.attempts)
    row.status, row.error_code, row.error_message = OutboxStatus.QUEUED, code, (text or "")[:500]
    row.next_attempt_at = utcnow() + delay
    db.session.commit()
    from app.jobs import get_queue
    from app.messaging.tasks import send_outbound

    get_queue("outbound").enqueue_in(delay, send_outbound, str(row.id), job_id=send_job_id(row))


def _retry_unknown(row: OutboundMessage, text: str) -> None:
    """The request may or may not have reached Twilio: look before sending again. When Twilio
    cannot even be asked, the row stays 'sending' and the sweep reconciles it later."""
    try:
        found = _adopt_from_twilio(row)
    except (TwilioException, OSError):
        row.error_message = text
        db.session.commit()
        return
    if found:
        db.session.commit()
        return
    _retry(row, None, text)


def _advance(row: OutboundMessage, status: str) -> bool:
    """Move to `status` if it is forward (final Twilio failures win over non-final states)."""
    if row.status in OutboxStatus.FINAL:
        return False
    if status in TWILIO_FINAL:
        row.status = status
    elif status in RANK and RANK[status] > RANK.get(row.status, -1):
        row.status = OutboxStatus.SENT if status in ("accepted", "scheduled") else status
    else:
        return False
    row.status_updated_at = utcnow()
    if status == OutboxStatus.DELIVERED:
        row.delivered_at = row.status_updated_at
    return True


def apply_status(row: OutboundMessage, status: str, error_code: str | None, error_message: str | None) -> bool:
    """A status callback: forward only, whatever order callbacks arrive in; the error code kept."""
    moved = _advance(row, status)
    if error_code and (moved or row.status in TWILIO_FINAL):
        row.error_code = error_code
        row.error_message = error_message or row.error_message
    return moved


# --- Reconciliation ------------------------------------------------------------


def _adopt_from_twilio(row: OutboundMessage) -> bool:
    """Find `row` among the messages Twilio has from our number to theirs since the claim; adopt its SID."""
    channel = db.session.get(Channel, row.channel_id) if row.channel_id else None
    creds = twilio_channels.credentials(channel) if channel is not None else None
    if creds is None:
        return False
    since = (row.status_updated_at or row.updated_at or row.created_at) - timedelta(minutes=5)
    # Up to 1000 messages to that number since the day of the claim (Twilio's DateSent> filter is by day):
    # a chatty conversation must not push the interrupted send out of the page we read.
    filters = {"to": row.to_address, "date_sent_after": since, "limit": 1000, "page_size": 1000}
    if row.from_address:
        filters["from_"] = row.from_address
    for message in make_client(*creds).messages.list(**filters):
        created = message.date_created
        if message.body == row.body and (created is None or created >= since):
            if row.provider_sid is None and message.sid:
                taken = db.session.scalar(select(OutboundMessage.id).where(OutboundMessage.provider_sid == message.sid))
                if taken is not None and taken != row.id:
                    continue  # another row's message with the same text
            row.provider_sid = message.sid
            row.sent_at = row.sent_at or created or utcnow()
            row.status = OutboxStatus.SENT
            _advance(row, message.status or OutboxStatus.SENT)
            return True
    return False


def _claim_stale(row_id: uuid.UUID, older_than: timedelta) -> bool:
    """Take a 'sending' row for reconciliation, for one sweeper only: the claim refreshes
    status_updated_at, so no other sweep sees it as stale while this one asks Twilio."""
    now = utcnow()
    result = db.session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.id == row_id,
            OutboundMessage.status == OutboxStatus.SENDING,
            OutboundMessage.status_updated_at <= now - older_than,
        )
        .values(status_updated_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def reconcile(row_id: uuid.UUID, older_than: timedelta = timedelta(0)) -> str | None:
    """A row stuck in 'sending': adopt Twilio's message if there is one, else requeue it (never a blind
    resend). The sweep passes `older_than` so that of several sweepers only one reconciles a row."""
    if not _claim_stale(row_id, older_than):
        row = db.session.get(OutboundMessage, row_id)
        return row.status if row else None
    row = db.session.get(OutboundMessage, row_id)
    db.session.refresh(row)
    try:
        found = _adopt_from_twilio(row)
    except (TwilioException, OSError) as error:
        extra = {"outbound_id": str(row.id), "error": str(error)[:500]}
        log.warning("reconciliation lookup failed; will try again", extra=extra)
        row.error_message = f"Not known yet whether Twilio has it: {explain(error)}"
        db.session.commit()
        return row.status
    if found:
        log.info("reconciled a send from Twilio's records", extra={"outbound_id": str(row.id)})
        db.session.commit()
    else:
        row.status = OutboxStatus.QUEUED
        row.next_attempt_at = None
        row.error_message = "requeued: Twilio has no record of the interrupted send"
        db.session.commit()
        dispatch(row)
    return row.status


def stale_sending_ids(older_than: timedelta = STALE_SENDING, limit: int = 500) -> list[uuid.UUID]:
    cutoff = utcnow() - older_than
    return list(
        db.session.scalars(
            select(OutboundMessage.id)
            .where(OutboundMessage.status == OutboxStatus.SENDING, OutboundMessage.status_updated_at < cutoff)
            .order_by(OutboundMessage.status_updated_at)
            .limit(limit)
        )
    )


def due_queued_ids(grace: timedelta = timedelta(minutes=1), limit: int = 1000) -> list[uuid.UUID]:
    """Queued rows whose job may have been lost (Redis flushed, enqueue after commit failed, a
    delayed retry that never came back): due for longer than `grace` and untouched as long."""
    cutoff = utcnow() - grace
    return list(
        db.session.scalars(
            select(OutboundMessage.id)
            .where(
                OutboundMessage.status == OutboxStatus.QUEUED,
                (OutboundMessage.next_attempt_at.is_(None)) | (OutboundMessage.next_attempt_at <= cutoff),
                OutboundMessage.updated_at < cutoff,
            )
            .order_by(OutboundMessage.created_at)
            .limit(limit)
        )
    )


def send_job_id(row: OutboundMessage) -> str:
    """The RQ job id of a row's current attempt: one id per attempt, so a re-dispatch can see it pending."""
    return f"outbound-{row.id}-{row.attempts}"
