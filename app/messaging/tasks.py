"""RQ jobs of the messaging domain: take ids, safe to run twice.

The sweep (`sweep_outbox`) is enqueued every OUTBOX_SWEEP_SECONDS by app.jobs'
periodic tick, on the embedded default and with `worker.py` alike. Several
workers may run it at once: every row it touches is claimed first (one
conditional UPDATE for outbox rows, a Redis claim plus a row lock for inbound
messages), so each row is handled by one of them.
"""

import logging
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app.extensions import db, redis_connection
from app.jobs import enqueue, job_pending
from app.messaging import inbound, outbox
from app.models import InboundEvent, OutboundMessage
from app.models.base import utcnow

log = logging.getLogger(__name__)


def send_outbound(outbound_id: str) -> str | None:
    """Send one outbox row (on the `outbound` queue); a row no longer queued is left alone."""
    return outbox.send(uuid.UUID(outbound_id))


# --- Answering inbound messages, once ------------------------------------------


def inbound_job_id(event_id) -> str:
    return f"inbound-{event_id}"


def _claim_key(event_id) -> str:
    return f"messaging:inbound-claim:{event_id}"


def enqueue_inbound(event_id) -> None:
    """The answering job of a stored inbound message (the webhook, and the sweep for a lost one)."""
    enqueue(
        process_inbound,
        str(event_id),
        queue="default",
        job_id=inbound_job_id(event_id),
        job_timeout=current_app.config["OUTBOX_INBOUND_JOB_TIMEOUT_SECONDS"],
    )


def process_inbound(event_id: str) -> bool:
    """Answer one stored inbound message (keywords, the inbox or the reply pipeline), exactly once.

    The claim is a Redis key set with NX that outlives the job's timeout, so a second
    job for the same message (a sweep's retry, a duplicate enqueue) returns at once
    while the first runs; once the first commits, processed_at stops every later one.
    On PostgreSQL the row is also locked (SKIP LOCKED) until the answer commits.
    A job that fails releases its claim, so the sweep answers the message later.
    Returns whether this job answered it.
    """
    connection, key, token = redis_connection(), _claim_key(event_id), uuid.uuid4().hex
    if not connection.set(key, token, nx=True, ex=current_app.config["OUTBOX_INBOUND_CLAIM_SECONDS"]):
        return False
    try:
        locked = db.session.scalar(
            select(InboundEvent.id)
            .where(InboundEvent.id == uuid.UUID(event_id), InboundEvent.processed_at.is_(None))
            .with_for_update(skip_locked=True)
        )
        if locked is None:
            db.session.rollback()
            return False  # answered already (or being answered under the row lock)
        inbound.process(uuid.UUID(event_id))
        return True
    except BaseException:
        db.session.rollback()
        if (connection.get(key) or b"").decode() == token:
            connection.delete(key)
        raise


def unanswered_inbound_ids(grace: timedelta, max_age: timedelta, limit: int = 500) -> list[uuid.UUID]:
    """Stored inbound messages nobody answered (their job crashed or was lost), oldest first."""
    now = utcnow()
    return list(
        db.session.scalars(
            select(InboundEvent.id)
            .where(
                InboundEvent.processed_at.is_(None),
                InboundEvent.received_at < now - grace,
                InboundEvent.received_at > now - max_age,
            )
            .order_by(InboundEvent.received_at)
            .limit(limit)
        )
    )


# --- The sweep -------------------------------------------------------------------


def _redispatch_due(grace: timedelta) -> int:
    """Queued rows whose send job is gone: enqueue it again (the claim in `send` makes a spare harmless)."""
    count = 0
    for row_id in outbox.due_queued_ids(grace):
        row = db.session.get(OutboundMessage, row_id)
        if row is not None and not job_pending(outbox.send_job_id(row)):
            outbox.dispatch(row)
            count += 1
    return count


def _retry_unanswered(grace: timedelta, max_age: timedelta) -> int:
    count = 0
    for event_id in unanswered_inbound_ids(grace, max_age):
        if redis_connection().exists(_claim_key(event_id)) or job_pending(inbound_job_id(event_id)):
            continue  # a worker is answering it, or its job is still waiting in the queue
        log.warning("answering an inbound message whose job was lost", extra={"event_id": str(event_id)})
        enqueue_inbound(event_id)
        count += 1
    return count


def sweep_outbox() -> dict:
    """Reconcile rows stuck in 'sending' with Twilio, re-dispatch queued rows whose job was lost,
    and re-run answering for inbound messages left unanswered. Safe with several sweepers at once."""
    config = current_app.config
    grace = timedelta(seconds=config["OUTBOX_SWEEP_GRACE_SECONDS"])
    stale = outbox.stale_sending_ids()
    for row_id in stale:
        outbox.reconcile(row_id, older_than=outbox.STALE_SENDING)
    redispatched = _redispatch_due(grace)
    retried = _retry_unanswered(grace, timedelta(seconds=config["OUTBOX_INBOUND_MAX_AGE_SECONDS"]))
    return {"reconciled": len(stale), "redispatched": redispatched, "inbound_retried": retried}
