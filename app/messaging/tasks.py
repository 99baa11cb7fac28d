"""RQ jobs of the messaging domain: take ids, safe to run twice."""

import uuid

from app.messaging import inbound, outbox


def send_outbound(outbound_id: str) -> str | None:
    """Send one outbox row (on the `outbound` queue); a row no longer queued is left alone."""
    return outbox.send(uuid.UUID(outbound_id))


def process_inbound(event_id: str) -> None:
    """Answer one stored inbound message (keywords, the inbox or the reply pipeline)."""
    inbound.process(uuid.UUID(event_id))


def sweep_outbox() -> dict:
    """Reconcile rows stuck in 'sending' and re-dispatch queued rows whose job was lost."""
    stale = outbox.stale_sending_ids()
    for row_id in stale:
        outbox.reconcile(row_id)
    due = outbox.due_queued_ids()
    for row_id in due:
        outbox.send(row_id)
    return {"reconciled": len(stale), "resent": len(due)}
