"""Background jobs on RQ: queues, enqueueing, and the embedded worker.

With REDIS_URL set, jobs go to Redis and `worker.py` processes run them.
Without it (the embedded default) the queues live on an in-process fakeredis
and worker threads plus RQ's scheduler run inside the web process, so jobs
still go through RQ exactly as in production.

Each queue has its own worker (a thread here, `worker.py ingest` and
`worker.py outbound default` processes in the Procfile): a slow ingestion
never delays a send or a program step.
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


def parse_queue_names(names) -> list[str]:
    """Queue names from arguments such as ["ingest"] or ["outbound,default"]; all of them when none."""
    parsed = [name.strip() for arg in names for name in arg.split(",") if name.strip()]
    unknown = sorted(set(parsed) - set(QUEUE_NAMES))
    if unknown:
        raise ValueError(f"unknown queue {', '.join(unknown)} (the queues are {', '.join(QUEUE_NAMES)})")
    return list(dict.fromkeys(parsed)) or list(QUEUE_NAMES)


def make_worker(app, worker_class=ThreadWorker, connection=None, queues=QUEUE_NAMES):
    connection = connection or app.extensions["redis"]
    worker = worker_class([Queue(name, connection=connection) for name in queues], connection=connection)
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
    """Start a worker thread per queue and the scheduler thread (with the periodic jobs) in this process."""
    from app.maintenance import recover_interrupted_work

    recover_interrupted_work(app)
    workers = {name: make_worker(app, queues=(name,)) for name in QUEUE_NAMES}
    for name, worker in workers.items():
        threading.Thread(
            target=worker.work, kwargs={"logging_level": "WARNING"}, name=f"rq-worker-{name}", daemon=True
        ).start()
    stop = threading.Event()
    threading.Thread(
        target=run_scheduler_loop, args=(app,), kwargs={"stop": stop}, name="rq-scheduler", daemon=True
    ).start()
    app.extensions["embedded_workers"] = workers
    app.extensions["embedded_scheduler_stop"] = stop
    log.info("embedded RQ workers and scheduler started", extra={"queues": list(QUEUE_NAMES)})


def run_pending_jobs(app, connection=None) -> int:
    """Run every queued job to completion in this thread (CLI and tests)."""
    worker = make_worker(app, connection=connection)
    worker.work(burst=True, logging_level="WARNING")
    return worker.jobs_run


def queue_depths() -> dict[str, int]:
    return {name: get_queue(name).count for name in QUEUE_NAMES}


def init_app(app):
    app.extensions["redis"] = connect_redis(app)
    if embedded_worker_wanted(app):
        # Under gunicorn the worker starts it once the app is loaded (app.serving.WebWorker);
        # any other server starts it with its first request. Never an import or a CLI command.
        @app.before_request
        def start_embedded_worker_on_first_request():
            if "embedded_workers" not in app.extensions:
                start_embedded_worker_if_needed(app)


def embedded_worker_wanted(app) -> bool:
    return not app.config["REDIS_URL"] and bool(app.config["EMBEDDED_WORKER"])


_start_lock = threading.Lock()


def start_embedded_worker_if_needed(app) -> bool:
    """Start the embedded workers once per app, from a serving process only (see init_app)."""
    if not embedded_worker_wanted(app):
        return False
    with _start_lock:
        if "embedded_workers" not in app.extensions:
            start_embedded_worker(app)
    return True
