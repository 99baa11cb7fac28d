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
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty

from app.extensions import redis_connection

QUEUE_NAMES = ("ingest", "outbound", "default")
# Jobs enqueued on `default` every so often: (name, function path, config key of the interval in seconds).
PERIODIC_JOBS = (
    ("outbox-sweep", "app.messaging.tasks.sweep_outbox", "OUTBOX_SWEEP_SECONDS"),
    ("program-sweep", "app.programs.tasks.sweep_programs", "PROGRAM_SWEEP_SECONDS"),
)
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


def job_pending(job_id: str) -> bool:
    """Whether the job with this id is still to run (queued, scheduled, deferred) or running."""
    try:
        status = Job.fetch(job_id, connection=redis_connection()).get_status(refresh=False)
    except NoSuchJobError:
        return False
    return status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED)


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


def enqueue_periodic_jobs(app, connection=None) -> list[str]:
    """Enqueue each periodic job whose interval has passed, once across every process ticking:
    the tick is a Redis key set with NX that expires after the interval, so one web process and
    N workers still make one run per interval. Returns the names enqueued."""
    connection = connection or app.extensions["redis"]
    enqueued = []
    for name, func, key in PERIODIC_JOBS:
        interval = int(app.config[key])
        if interval > 0 and connection.set(f"periodic:{name}", "1", nx=True, ex=interval):
            Queue("default", connection=connection).enqueue(
                func, job_timeout=max(interval * 4, 120), result_ttl=interval * 4, failure_ttl=24 * 3600
            )
            enqueued.append(name)
    return enqueued


def run_scheduler_loop(app, interval: float = 1.0, stop: threading.Event | None = None, rq_scheduler: bool = True):
    """Driven from a thread: RQ's scheduler (moves due scheduled jobs to their queues) unless the
    worker runs its own (`rq_scheduler=False`), and the periodic jobs' tick."""
    connection = app.extensions["redis"]
    scheduler = RQScheduler(all_queues(connection), connection=connection) if rq_scheduler else None
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            if scheduler is not None:
                scheduler.acquire_locks()
                scheduler.enqueue_scheduled_jobs()
            enqueue_periodic_jobs(app, connection)
        except Exception:  # keep scheduling through a transient failure
            log.exception("scheduler iteration failed")
        stop.wait(interval)


def start_embedded_worker(app):
    """Start one worker thread and the scheduler thread (with the periodic jobs) inside this process."""
    from app.maintenance import recover_interrupted_work

    recover_interrupted_work(app)
    worker = make_worker(app)
    threading.Thread(target=worker.work, kwargs={"logging_level": "WARNING"}, name="rq-worker", daemon=True).start()
    stop = threading.Event()
    threading.Thread(
        target=run_scheduler_loop, args=(app,), kwargs={"stop": stop}, name="rq-scheduler", daemon=True
    ).start()
    app.extensions["embedded_worker"] = worker
    app.extensions["embedded_scheduler_stop"] = stop
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
