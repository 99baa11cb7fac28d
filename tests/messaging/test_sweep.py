"""The periodic outbox sweep: lost send jobs, sends cut off mid-call and unanswered inbound
messages are picked up again, each by one worker even when several sweep at once."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.extensions import db
from app.jobs import enqueue_periodic_jobs, get_queue, start_embedded_worker_if_needed
from app.messaging import outbox, tasks
from app.models import Channel, EndUser, InboundEvent, Message, OutboundMessage
from app.models.base import utcnow
from app.models.messaging import OutboxStatus
from tests.messaging.conftest import inbound_params, signed_post

NUMBER = "+15550001111"


@pytest.fixture
def line(creator, make_twilio_channel):
    return make_twilio_channel(creator, "sms", NUMBER)


@pytest.fixture
def lost(app, client, line, twilio, run_jobs):
    """lost(body) -> the id of a queued outbox row committed without its send job (a lost enqueue)."""
    channel, token = line
    signed_post(client, "/webhooks/inbound", inbound_params(body="START"), token)
    run_jobs()
    twilio.messages.clear()
    twilio.requests.clear()

    def make(body="Your plan for today"):
        with app.app_context():
            user = db.session.query(EndUser).one()
            row = outbox.queue_message(db.session.get(Channel, uuid.UUID(channel["id"])), user, body, "agent_reply")
            row.from_address = NUMBER
            db.session.commit()
            return row.id

    return make


def _age(app, model, ids, **columns):
    """Move timestamps into the past: columns given as seconds ago."""
    with app.app_context():
        values = {name: utcnow() - timedelta(seconds=ago) for name, ago in columns.items()}
        db.session.execute(update(model).where(model.id.in_(ids)).values(**values))
        db.session.commit()


def _sweep(app):
    with app.app_context():
        return tasks.sweep_outbox()


def _at_once(app, func, threads=4):
    """Run func(app) in several threads started together (several workers sweeping); their results."""
    barrier, results = threading.Barrier(threads), []

    def run():
        barrier.wait()
        results.append(func(app))

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert len(results) == threads
    return results


def test_a_queued_row_whose_job_was_lost_is_sent_by_the_sweep(app, lost, twilio, run_jobs, outbox_rows):
    row_id = lost("Drink water")
    assert _sweep(app)["redispatched"] == 0  # too young: its job is probably on its way
    _age(app, OutboundMessage, [row_id], updated_at=120)
    assert _sweep(app)["redispatched"] == 1
    assert _sweep(app)["redispatched"] == 0  # its job is queued now: not enqueued twice
    run_jobs()
    assert [m["body"] for m in twilio.sent] == ["Drink water"]
    assert outbox_rows(id=row_id)[0].status == OutboxStatus.SENT


def test_a_retry_whose_delayed_job_was_lost_is_sent_by_the_sweep(app, lost, twilio, run_jobs, outbox_rows):
    row_id = lost("Stretch")
    twilio.fail_next(503)
    with app.app_context():
        assert outbox.send(row_id) == OutboxStatus.QUEUED  # a delayed retry job is scheduled
    app.extensions["redis"].flushdb()  # ... and lost with Redis
    _age(app, OutboundMessage, [row_id], updated_at=120, next_attempt_at=90)
    assert _sweep(app)["redispatched"] == 1
    run_jobs()
    assert [m["body"] for m in twilio.sent] == ["Stretch"]
    [row] = outbox_rows(id=row_id)
    assert row.status == OutboxStatus.SENT and row.attempts == 2


def test_several_sweepers_reconcile_a_stale_send_once_and_send_it_once(app, lost, twilio, run_jobs, outbox_rows):
    row_ids = [lost(f"Message {n}") for n in range(3)]
    with app.app_context():
        for row_id in row_ids:
            assert outbox._claim(row_id)  # claimed, then the worker was killed before calling Twilio
    _age(app, OutboundMessage, row_ids, status_updated_at=3600)
    _at_once(app, _sweep)
    lookups = [r for r in twilio.requests if r.method == "GET" and r.path.endswith("/Messages.json")]
    assert len(lookups) == 3  # each row looked up at Twilio by one sweeper only
    run_jobs()
    assert sorted(m["body"] for m in twilio.sent) == ["Message 0", "Message 1", "Message 2"]
    assert {row.status for row in outbox_rows()} == {OutboxStatus.SENT}


def test_a_stale_send_twilio_already_has_is_adopted_not_resent(app, lost, twilio, run_jobs, outbox_rows):
    row_id = lost("Sleep early")
    with app.app_context():
        outbox._claim(row_id)
        account = db.session.query(Channel).one().configuration["account_sid"]
    message = twilio.record_message(account, "+15557654321", NUMBER, "Sleep early")  # Twilio got it, then the kill
    _age(app, OutboundMessage, [row_id], status_updated_at=3600)
    _at_once(app, _sweep)
    run_jobs()
    assert twilio.sent == [message]
    [row] = outbox_rows(id=row_id)
    assert row.status == OutboxStatus.SENT and row.provider_sid == message["sid"]


def test_a_live_send_is_left_alone(app, lost, twilio):
    row_id = lost("Breathe")
    with app.app_context():
        outbox._claim(row_id)
        assert outbox.reconcile(row_id, older_than=outbox.STALE_SENDING) == OutboxStatus.SENDING
    assert twilio.requests == []


@pytest.fixture
def unanswered(app, client, line, inbound_rows):
    """unanswered(body) -> the id of an inbound message stored by the webhook whose answering job was lost."""
    _, token = line

    def make(body="How do I start running?"):
        signed_post(client, "/webhooks/inbound", inbound_params(body=body), token)
        app.extensions["redis"].flushdb()  # the job is gone (Redis lost it, or the worker died with it)
        [event] = [e for e in inbound_rows() if e.body == body]
        return event.id

    return make


def _ai_replies(rows):
    return [m for m in rows(Message) if m.sender == "ai"]


def test_an_unanswered_inbound_message_is_answered_once_by_several_sweepers(
    app, unanswered, twilio, run_jobs, rows, inbound_rows
):
    event_id = unanswered()
    assert _sweep(app)["inbound_retried"] == 0  # younger than the grace: its job may still come
    _age(app, InboundEvent, [event_id], received_at=120)
    _at_once(app, _sweep)
    run_jobs()
    assert inbound_rows(id=event_id)[0].processed_at is not None
    assert len(_ai_replies(rows)) == 1 and len(rows(OutboundMessage)) == 1 and len(twilio.sent) == 1
    assert _sweep(app)["inbound_retried"] == 0


def test_concurrent_answering_jobs_answer_once(app, unanswered, twilio, run_jobs, rows):
    event_id = unanswered()
    results = _at_once(app, lambda app: _in_context(app, tasks.process_inbound, str(event_id)))
    assert results.count(True) == 1
    assert _in_context(app, tasks.process_inbound, str(event_id)) is False
    run_jobs()
    assert len(_ai_replies(rows)) == 1 and len(twilio.sent) == 1


def test_a_claimed_message_waits_for_its_claim(app, unanswered, run_jobs, rows):
    event_id = unanswered()
    _age(app, InboundEvent, [event_id], received_at=120)
    app.extensions["redis"].set(tasks._claim_key(event_id), "another worker")
    assert _in_context(app, tasks.process_inbound, str(event_id)) is False
    assert _sweep(app)["inbound_retried"] == 0  # being answered
    app.extensions["redis"].delete(tasks._claim_key(event_id))  # that worker died; its claim expired
    assert _sweep(app)["inbound_retried"] == 1
    run_jobs()
    assert len(_ai_replies(rows)) == 1


def _in_context(app, func, *args):
    with app.app_context():
        return func(*args)


def test_the_sweep_is_enqueued_once_per_interval_by_any_number_of_tickers(app, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_SWEEP_SECONDS", 30)
    ticks = [enqueue_periodic_jobs(app) for _ in range(5)]  # five processes ticking in the same second
    assert ticks[0] == ["outbox-sweep"] and ticks[1:] == [[]] * 4
    with app.app_context():
        [job] = get_queue("default").jobs
    assert job.func_name == "app.messaging.tasks.sweep_outbox"


def test_the_embedded_scheduler_sweeps_on_its_own(make_app, lost, twilio, outbox_rows):
    row_id = lost("Walk after lunch")
    web = make_app(
        REDIS_URL=None, EMBEDDED_WORKER=True, OUTBOX_SWEEP_SECONDS=1, TWILIO_API_BASE=twilio.url
    )  # as `make run` starts it, on its own fakeredis
    _age(web, OutboundMessage, [row_id], updated_at=120)
    assert start_embedded_worker_if_needed(web)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not twilio.sent:
            time.sleep(0.1)
    finally:
        web.extensions["embedded_scheduler_stop"].set()
    assert [m["body"] for m in twilio.sent] == ["Walk after lunch"]
    assert outbox_rows(id=row_id)[0].status == OutboxStatus.SENT
