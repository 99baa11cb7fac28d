"""Background jobs really run through RQ: the embedded worker thread and
scheduler on the embedded default, and worker.py processes against Redis."""

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from rq.job import JobStatus

from app.jobs import enqueue, get_queue, start_embedded_worker_if_needed
from app.mail import deliver_email

ROOT = Path(__file__).resolve().parent.parent


# Released by the test that holds an ingest job (the embedded worker threads live in this process).
_RELEASE_INGEST = threading.Event()


def hold_until_released() -> str:
    """A stand-in for an ingestion stuck on a slow server: it runs until the test lets it go."""
    _RELEASE_INGEST.wait(timeout=60)
    return "released"


def wait_until_finished(job, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job.get_status(refresh=True) in (JobStatus.FINISHED, JobStatus.FAILED):
            break
        time.sleep(0.05)
    return job.get_status(refresh=True)


def wait_until_status(job, status, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and job.get_status(refresh=True) != status:
        time.sleep(0.05)
    return job.get_status(refresh=True)


def test_embedded_worker_and_scheduler_run_jobs_in_process(make_app):
    # A separate app on its own fakeredis, as `make run` starts it.
    app = make_app(REDIS_URL=None, EMBEDDED_WORKER=True)
    assert start_embedded_worker_if_needed(app)
    with app.app_context():
        now = enqueue(deliver_email, "a@example.com", "Hi", "now")
        later = get_queue("default").enqueue_in(timedelta(seconds=1), deliver_email, "b@example.com", "Hi", "later")
        assert wait_until_finished(now) == JobStatus.FINISHED and now.return_value() == "logged"
        assert later.get_status() == JobStatus.SCHEDULED
        assert wait_until_finished(later) == JobStatus.FINISHED  # moved to its queue by RQ's scheduler


def test_a_blocked_ingest_job_never_delays_outbound_or_default_jobs_on_the_embedded_default(make_app):
    app = make_app(REDIS_URL=None, EMBEDDED_WORKER=True)
    _RELEASE_INGEST.clear()
    assert start_embedded_worker_if_needed(app)
    try:
        with app.app_context():
            stuck = enqueue(hold_until_released, queue="ingest")
            assert wait_until_status(stuck, JobStatus.STARTED) == JobStatus.STARTED
            send = enqueue(deliver_email, "d@example.com", "Hi", "a send", queue="outbound")
            step = enqueue(deliver_email, "e@example.com", "Hi", "a program step")
            assert wait_until_finished(send) == JobStatus.FINISHED
            assert wait_until_finished(step) == JobStatus.FINISHED
            assert stuck.get_status(refresh=True) == JobStatus.STARTED  # still holding its own thread
    finally:
        _RELEASE_INGEST.set()
    assert wait_until_finished(stuck) == JobStatus.FINISHED and stuck.return_value() == "released"


def test_the_embedded_worker_starts_once_however_often_it_is_asked(make_app):
    app = make_app(REDIS_URL=None, EMBEDDED_WORKER=True)
    assert start_embedded_worker_if_needed(app) and start_embedded_worker_if_needed(app)
    workers = app.extensions["embedded_workers"]
    assert {name: [q.name for q in w.queues] for name, w in workers.items()} == {
        "ingest": ["ingest"],
        "outbound": ["outbound"],
        "default": ["default"],
    }
    app.test_client().get("/health")  # the first request finds them started
    assert app.extensions["embedded_workers"] is workers


def test_another_server_starts_the_embedded_worker_with_its_first_request(make_app):
    app = make_app(REDIS_URL=None, EMBEDDED_WORKER=True)
    assert "embedded_workers" not in app.extensions  # building the app (an import, a CLI command) starts nothing
    assert app.test_client().get("/health").status_code == 200
    assert set(app.extensions["embedded_workers"]) == {"ingest", "outbound", "default"}


def test_no_embedded_worker_when_redis_is_configured(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:6379/15", EMBEDDED_WORKER=True)
    assert start_embedded_worker_if_needed(app) is False


def test_worker_process_runs_queued_jobs_against_redis(app):
    if not app.config["REDIS_URL"]:
        pytest.skip("worker.py needs a real Redis (the PostgreSQL + Redis pass runs this)")
    with app.app_context():
        job = enqueue(deliver_email, "c@example.com", "Hi", "from a worker process")
    env = os.environ | {"REDIS_URL": app.config["REDIS_URL"]}
    result = subprocess.run(
        [sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert job.get_status(refresh=True) == JobStatus.FINISHED and job.return_value() == "logged"


def test_worker_process_serves_only_the_queues_it_is_given(app):
    if not app.config["REDIS_URL"]:
        pytest.skip("worker.py needs a real Redis (the PostgreSQL + Redis pass runs this)")
    with app.app_context():
        ingest = enqueue(deliver_email, "f@example.com", "Hi", "ingest", queue="ingest")
        send = enqueue(deliver_email, "g@example.com", "Hi", "send", queue="outbound")
        step = enqueue(deliver_email, "h@example.com", "Hi", "step")
    env = os.environ | {"REDIS_URL": app.config["REDIS_URL"]}
    for args in (["ingest"], ["--queues", "outbound,default"]):
        result = subprocess.run(
            [sys.executable, "worker.py", *args, "--burst"], cwd=ROOT, env=env, capture_output=True, timeout=120
        )
        assert result.returncode == 0, result.stderr.decode()[-2000:]
        if args == ["ingest"]:  # the ingest worker ran its queue and left the others alone
            assert ingest.get_status(refresh=True) == JobStatus.FINISHED
            assert send.get_status(refresh=True) == step.get_status(refresh=True) == JobStatus.QUEUED
    assert send.get_status(refresh=True) == step.get_status(refresh=True) == JobStatus.FINISHED


def test_worker_refuses_an_unknown_queue():
    result = subprocess.run(
        [sys.executable, "worker.py", "ingest", "--queues", "outbox", "--burst"],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 2 and b"unknown queue outbox" in result.stderr


def test_worker_refuses_to_start_without_redis():
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    result = subprocess.run(
        [sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert result.returncode == 2 and b"REDIS_URL" in result.stderr
