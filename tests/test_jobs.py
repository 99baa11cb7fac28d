"""Background jobs really run through RQ: the embedded worker thread and
scheduler on the embedded default, and worker.py processes against Redis."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from rq.job import JobStatus

from app.jobs import enqueue, get_queue, start_embedded_worker_if_needed
from app.mail import deliver_email

ROOT = Path(__file__).resolve().parent.parent


def wait_until_finished(job, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job.get_status(refresh=True) in (JobStatus.FINISHED, JobStatus.FAILED):
            break
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


def test_worker_refuses_to_start_without_redis():
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    result = subprocess.run(
        [sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert result.returncode == 2 and b"REDIS_URL" in result.stderr
