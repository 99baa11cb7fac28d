"""RQ worker for the `ingest`, `outbound` and `default` queues, with RQ's scheduler
and the periodic jobs' tick (app.jobs.PERIODIC_JOBS: the outbox sweep).

Run `python worker.py` (the Procfile's `worker`) against a real Redis
(REDIS_URL). On the embedded default the web process runs its own worker
thread instead, so this is only needed in production.
"""

import sys
import threading

from app import create_app
from app.jobs import AppWorker, ProcessWorker, make_worker, run_scheduler_loop
from app.maintenance import recover_interrupted_work
from app.messaging.tasks import sweep_outbox


def main(argv: list[str]) -> int:
    app = create_app()
    if not app.config["REDIS_URL"]:
        print("worker.py needs REDIS_URL; without it the web process runs jobs itself.", file=sys.stderr)
        return 2
    recover_interrupted_work(app)
    with app.app_context():  # sends cut off by a dead worker: reconciled with Twilio, never resent blindly
        sweep_outbox()
    # Jobs run in this process (no fork per job: outbound sends are many and short);
    # --fork isolates each job in a work horse instead, at ~15 ms of CPU per job.
    worker = make_worker(app, worker_class=AppWorker if "--fork" in argv else ProcessWorker)
    # SIGTERM finishes the current job, then exits (RQ's warm shutdown).
    # --burst: run what is queued, then exit (used by tests and one-off runs).
    burst = "--burst" in argv
    if not burst:
        # RQ's scheduler and the periodic jobs' tick (the outbox sweep) in a thread, which dies with
        # this process: RQ's own with_scheduler forks a scheduler process that a SIGKILL leaves orphaned.
        threading.Thread(target=run_scheduler_loop, args=(app,), name="scheduler", daemon=True).start()
    worker.work(burst=burst, with_scheduler=burst, logging_level=app.config["LOG_LEVEL"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
