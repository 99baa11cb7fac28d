"""Twilio's callbacks: POST /webhooks/inbound and POST /webhooks/status.

Both fail closed: no valid X-Twilio-Signature from the auth token of the
channel owning the number is a 403 with nothing stored (see inbound.authenticate).
Replies never go in the TwiML: they go through the outbox, so the answer is empty.
"""

import logging

from flask import Response, abort, request
from sqlalchemy import select

from app.extensions import db
from app.messaging import inbound, outbox, tasks, webhooks_bp
from app.models import OutboundMessage

log = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
RECEIVED = {"status": "received"}  # the status webhook's answer (event-stream-engine "Delivery Status Webhook")


def _twiml() -> Response:
    return Response(EMPTY_TWIML, mimetype="text/xml")


@webhooks_bp.route("/inbound", methods=["POST"], endpoint="inbound")
def inbound_message():
    """A message to one of our numbers: stored once, answered by a job."""
    try:
        channel = inbound.authenticate(request, request.form.get("To"))
        event = inbound.record(channel, request.form)
    except inbound.Rejected as error:
        log.warning("inbound webhook refused", extra={"reason": str(error)})
        abort(403)
    if event is not None:
        tasks.enqueue_inbound(event.id)  # one job id per message; the job claims it (tasks.process_inbound)
    return _twiml()


@webhooks_bp.route("/status", methods=["POST"], endpoint="status")
def message_status():
    """Twilio's status callback for a message we sent: moves the outbox row forward only."""
    try:
        channel = inbound.authenticate(request, request.form.get("From"))
    except inbound.Rejected as error:
        log.warning("status webhook refused", extra={"reason": str(error)})
        abort(403)
    sid = request.form.get("MessageSid") or request.form.get("SmsSid")
    status = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "").lower()
    row = db.session.scalar(select(OutboundMessage).where(OutboundMessage.provider_sid == sid)) if sid else None
    if row is None or row.creator_id != channel.creator_id:
        log.info("status callback for an unknown message", extra={"message_sid": sid, "status": status})
        return RECEIVED
    outbox.apply_status(row, status, request.form.get("ErrorCode"), request.form.get("ErrorMessage"))
    db.session.commit()
    return RECEIVED
