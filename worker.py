"""RQ worker for the `ingest`, `outbound` and `default` queues (or those named), with RQ's
scheduler and the periodic jobs' tick (app.jobs.PERIODIC_JOBS: the outbox and program sweeps).

Run `python worker.py` for every queue, or `python worker.py ingest` /
`python worker.py --queues outbound,default` for some: the Procfile runs an ingest worker
beside the others, so a long ingestion never delays a send or a program step. It needs a
real Redis (REDIS_URL); on the embedded default the web process runs worker threads instead.
"""

import argparse
import sys
import threading

from app import create_app
from app.jobs import AppWorker, ProcessWorker, make_worker, parse_queue_names, run_scheduler_loop
from app.maintenance import recover_interrupted_work
from app.messaging.tasks import sweep_outbox


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="worker.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("queues", nargs="*", help="queues to serve (default: ingest outbound default)")
    parser.add_argument("--queues", dest="queue_option", action="append", default=[], help="comma-separated queues")
    # --burst: run what is queued, then exit (used by tests and one-off runs).
    parser.add_argument("--burst", action="store_true", help="run what is queued, then exit")
    # Jobs run in this process (no fork per job: outbound sends are many and short);
    # --fork isolates each job in a work horse instead, at ~15 ms of CPU per job.
    parser.add_argument("--fork", action="store_true", help="run each job in a forked work horse")
    args = parser.parse_args(argv)
    try:
        args.queues = parse_queue_names(args.queues + args.queue_option)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    app = create_app()
    if not app.config["REDIS_URL"]:
        print("worker.py needs REDIS_URL; without it the web process runs jobs itself.", file=sys.stderr)
        return 2
    # Work a dead worker of these queues left half-done.
    if "ingest" in args.queues:
        recover_interrupted_work(app)
    if "outbound" in args.queues:
        with app.app_context():  # sends cut off by a dead worker: reconciled with Twilio, never resent blindly
            sweep_outbox()
    worker = make_worker(app, worker_class=AppWorker if args.fork else ProcessWorker, queues=args.queues)
    # SIGTERM finishes the current job, then exits (RQ's warm shutdown).
    if not args.burst:
        # RQ's scheduler and the periodic jobs' tick (the outbox sweep) in a thread, which dies with
        # this process: RQ's own with_scheduler forks a scheduler process that a SIGKILL leaves orphaned.
        # Every worker process runs it: RQ's scheduler locks each queue, and the tick runs once per interval.
        threading.Thread(target=run_scheduler_loop, args=(app,), name="scheduler", daemon=True).start()
    worker.work(burst=args.burst, with_scheduler=args.burst, logging_level=app.config["LOG_LEVEL"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
