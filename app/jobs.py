"""Background jobs on RQ: queues, enqueueing, and the embedded worker.

With REDIS_URL set, jobs go to Redis and `worker.py` processes run them.
Without it (the embedded default) the queues live on an in-process fakeredis
and a worker thread plus RQ's scheduler run inside the web process, so jobs
still go through RQ exactly as in production.
"""

import logging
import threading

import fakeredis
import redis
from rq import Queue, SimpleWorker, Worker
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty

from app.extensions import redis_connection

QUEUE_NAMES = ("ingest", "outbound", "default")
log = logging.getLogger(__name__)


def connect_redis(app):
    """Real Redis when configured, else one shared in-process fake server."""
    url = app.config["REDIS_URL"]
    if url:
        return redis.Redis.from_url(url)
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def get_queue(name: str = "default") -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_connection())


def enqueue(func, *args, queue: str = "default", **kwargs):
    """Enqueue `func` (a module-level function taking ids) on a named queue."""
    return get_queue(queue).enqueue(func, *args, **kwargs)


def all_queues(connection) -> list[Queue]:
    return [Queue(name, connection=connection) for name in QUEUE_NAMES]


class AppContextMixin:
    """Run every job in a fresh app context, so each gets its own DB session."""

    flask_app = None
    jobs_run = 0

    def perform_job(self, *args, **kwargs):
        self.jobs_run += 1
        with self.flask_app.app_context():
            return super().perform_job(*args, **kwargs)


class AppWorker(AppContextMixin, Worker):
    """A forking worker (`worker.py --fork`): a work horse per job, isolated but ~15 ms of CPU per fork."""


class ProcessWorker(AppContextMixin, SimpleWorker):
    """The production worker (`worker.py`): runs jobs in its own process without forking, so short
    jobs (one outbound SMS each) are not capped by the fork; SIGTERM still finishes the current job."""


class ThreadWorker(AppContextMixin, SimpleWorker):
    """A worker that can live in a thread: no signal handlers, timer timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass


def make_worker(app, worker_class=ThreadWorker, connection=None):
    connection = connection or app.extensions["redis"]
    worker = worker_class(all_queues(connection), connection=connection)
    worker.flask_app = app
    return worker


def run_scheduler_loop(app, interval: float = 1.0, stop: threading.Event | None = None):
    """RQ's scheduler, driven from a thread: moves due scheduled jobs to their queues."""
    connection = app.extensions["redis"]
    scheduler = RQScheduler(all_queues(connection), connection=connection)
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            scheduler.acquire_locks()
            scheduler.enqueue_scheduled_jobs()
        except Exception:  # keep scheduling through a transient failure
            log.exception("scheduler iteration failed")
        stop.wait(interval)


def start_embedded_worker(app):
    """Start one worker thread and the scheduler thread inside this process."""
    from app.maintenance import recover_interrupted_work

    recover_interrupted_work(app)
    worker = make_worker(app)
    threading.Thread(target=worker.work, kwargs={"logging_level": "WARNING"}, name="rq-worker", daemon=True).start()
    threading.Thread(target=run_scheduler_loop, args=(app,), name="rq-scheduler", daemon=True).start()
    app.extensions["embedded_worker"] = worker
    log.info("embedded RQ worker and scheduler started", extra={"queues": list(QUEUE_NAMES)})


def run_pending_jobs(app, connection=None) -> int:
    """Run every queued job to completion in this thread (CLI and tests)."""
    worker = make_worker(app, connection=connection)
    worker.work(burst=True, logging_level="WARNING")
    return worker.jobs_run


def queue_depths() -> dict[str, int]:
    return {name: get_queue(name).count for name in QUEUE_NAMES}


def init_app(app):
    app.extensions["redis"] = connect_redis(app)


def start_embedded_worker_if_needed(app) -> bool:
    """Called by the serving entry point (wsgi.py), never by CLI commands or tests."""
    if app.config["REDIS_URL"] or not app.config["EMBEDDED_WORKER"]:
        return False
    start_embedded_worker(app)
    return True
