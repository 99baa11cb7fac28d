"""The outbox at send time: consent, no credentials, retries on the same row, 21610, one claim, reconciliation."""

import uuid
from datetime import timedelta

import pytest

from app.extensions import db
from app.messaging import outbox
from app.models import Channel, EndUser, OutboundMessage
from app.models.base import utcnow
from app.models.messaging import OutboxStatus
from tests.messaging.conftest import inbound_params, signed_post


@pytest.fixture
def line(creator, make_twilio_channel):
    return make_twilio_channel(creator, "sms", "+15550001111")


@pytest.fixture
def queued(app, client, line, twilio):
    """A user who texted in, and one queued outbox row for them (not sent yet): returns its id."""
    channel, token = line
    signed_post(client, "/webhooks/inbound", inbound_params(body="START"), token)

    def make(body="Your plan for today", source="agent_reply"):
        with app.app_context():
            from app.jobs import run_pending_jobs

            run_pending_jobs(app)
            user = db.session.query(EndUser).one()
            row = outbox.queue_message(db.session.get(Channel, uuid.UUID(channel["id"])), user, body, source)
            row.from_address = "+15550001111"
            db.session.commit()
            twilio.messages.clear()
            return row.id

    return make


def _send(app, row_id):
    with app.app_context():
        return outbox.send(row_id)


def _row(app, row_id) -> OutboundMessage:
    with app.app_context():
        row = db.session.get(OutboundMessage, row_id)
        db.session.expunge(row)
        return row


def _due_now(app, row_id):
    with app.app_context():
        db.session.get(OutboundMessage, row_id).next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retried_on_the_same_row(app, queued, twilio, status, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_RETRY_BASE_SECONDS", 60)  # clearly not due until _due_now
    row_id = queued()
    twilio.fail_next(status, code=20429 if status == 429 else None)
    assert _send(app, row_id) == OutboxStatus.QUEUED
    row = _row(app, row_id)
    assert row.attempts == 1 and row.next_attempt_at is not None and row.provider_sid is None
    assert _send(app, row_id) == OutboxStatus.QUEUED  # not due yet: nothing sent
    assert twilio.sent == []
    _due_now(app, row_id)
    assert _send(app, row_id) == OutboxStatus.SENT
    row = _row(app, row_id)
    assert row.attempts == 2 and row.error_code is None and len(twilio.sent) == 1


def test_gives_up_after_max_attempts(app, queued, twilio):
    row_id = queued()
    twilio.fail_next(503, times=outbox.MAX_ATTEMPTS)
    for _ in range(outbox.MAX_ATTEMPTS):
        _due_now(app, row_id)
        _send(app, row_id)
    row = _row(app, row_id)
    assert row.status == OutboxStatus.FAILED and "gave up" in row.error_message


def test_21610_opts_the_user_out(app, queued, twilio, rows):
    row_id = queued()
    twilio.fail_next(400, code=21610, message="Attempt to send to unsubscribed recipient")
    assert _send(app, row_id) == OutboxStatus.FAILED
    row = _row(app, row_id)
    assert row.error_code == "21610" and "unsubscribed recipient" in row.error_message
    [user] = rows(EndUser)
    assert user.consent_state == "OPT_OUT"
    later = queued("Tomorrow's plan")
    assert _send(app, later) == OutboxStatus.BLOCKED


def test_other_client_errors_fail_with_code_and_message(app, queued, twilio):
    row_id = queued()
    twilio.fail_next(400, code=21211, message="Invalid 'To' Phone Number")
    assert _send(app, row_id) == OutboxStatus.FAILED
    assert _row(app, row_id).error_code == "21211"


def test_proactive_messages_need_opt_in(app, queued, rows):
    row_id = queued(source="campaign")
    assert _send(app, row_id) == OutboxStatus.SENT  # START made them OPT_IN
    with app.app_context():
        db.session.query(EndUser).one().consent_state = "PENDING"
        db.session.commit()
    assert _send(app, queued(source="campaign")) == OutboxStatus.BLOCKED


def test_no_credentials_is_not_sent_and_kept(app, queued):
    row_id = queued()
    with app.app_context():
        db.session.query(Channel).one().encrypted_secrets = None
        db.session.commit()
    assert _send(app, row_id) == OutboxStatus.NOT_SENT
    assert _row(app, row_id).error_message == "not sent: no Twilio credentials"


def test_a_claimed_row_is_not_sent_again(app, queued, twilio):
    row_id = queued()
    with app.app_context():
        assert outbox._claim(row_id) is True
        assert outbox._claim(row_id) is False
    assert _send(app, row_id) == OutboxStatus.SENDING
    assert twilio.sent == []


def test_a_row_stuck_in_sending_is_adopted_when_twilio_has_it(app, queued, twilio):
    row_id = queued("Stretch for ten minutes")
    with app.app_context():
        outbox._claim(row_id)  # the worker claimed it, Twilio accepted it, then the worker died
    message = twilio.record_message(_account_sid(app), "+15557654321", "+15550001111", "Stretch for ten minutes")
    with app.app_context():
        assert outbox.reconcile(row_id) == OutboxStatus.SENT
    row = _row(app, row_id)
    assert row.provider_sid == message["sid"] and twilio.sent == [message]  # nothing sent again


def test_a_row_stuck_in_sending_without_a_trace_is_sent_once(app, queued, twilio, run_jobs):
    row_id = queued("Drink water")
    with app.app_context():
        outbox._claim(row_id)
        assert outbox.reconcile(row_id) == OutboxStatus.QUEUED
    run_jobs()
    assert [m["body"] for m in twilio.sent] == ["Drink water"]
    assert _row(app, row_id).status == OutboxStatus.SENT


def test_the_sweep_only_reconciles_stale_rows(app, queued, twilio):
    from app.messaging.tasks import sweep_outbox

    row_id = queued("Sleep early")
    with app.app_context():
        outbox._claim(row_id)
        assert sweep_outbox()["reconciled"] == 0  # a live worker may still be calling Twilio
        db.session.get(OutboundMessage, row_id).status_updated_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        assert sweep_outbox()["reconciled"] == 1


def _account_sid(app) -> str:
    with app.app_context():
        return db.session.query(Channel).one().configuration["account_sid"]


def test_twilio_out_of_reach_is_left_to_the_sweep_with_a_readable_reason(app, queued, twilio, monkeypatch):
    row_id = queued()
    fake_twilio = app.config["TWILIO_API_BASE"]
    monkeypatch.setitem(app.config, "TWILIO_API_BASE", "http://127.0.0.1:9")  # nothing listens on discard
    # Whether Twilio got it is unknown and cannot be asked: no resend now, the sweep reconciles it.
    assert _send(app, row_id) == OutboxStatus.SENDING
    assert _row(app, row_id).error_message == "Could not reach Twilio: check the network."
    with app.app_context():
        assert outbox.reconcile(row_id) == OutboxStatus.SENDING
    reason = _row(app, row_id).error_message
    assert reason == "Not known yet whether Twilio has it: Could not reach Twilio: check the network."
    monkeypatch.setitem(app.config, "TWILIO_API_BASE", fake_twilio)
    with app.app_context():
        assert outbox.reconcile(row_id) == OutboxStatus.QUEUED  # Twilio is back and has no such message
