"""Helpers shared by the benchmarks."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def in_instance(run: Callable[[str], int], prefix: str) -> int:
    """`run(instance)` in INSTANCE_PATH, or in a temporary instance removed at the end."""
    own_instance = "INSTANCE_PATH" not in os.environ
    instance = os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix=prefix))
    try:
        return run(instance)
    finally:
        if own_instance:
            shutil.rmtree(instance, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis() -> tuple[str | None, subprocess.Popen | None]:
    """REDIS_URL, or a redis-server started on a free port (None when there is no binary)."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"], None
    binary = shutil.which("redis-server")
    if binary is None:
        return None, None
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0", process


def with_redis(run: Callable[[str], int], prefix: str) -> int:
    """`run(redis_url)` on Redis (see start_redis) and DATABASE_URL, else an SQLite file in a
    temporary instance; skipped (0) without any Redis."""
    redis_url, redis_process = start_redis()
    if redis_url is None:
        print("skipped: REDIS_URL is unset and there is no redis-server binary to start")
        return 0
    own_instance = not os.environ.get("DATABASE_URL") and "INSTANCE_PATH" not in os.environ
    if own_instance:
        os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix=prefix)
    try:
        return run(redis_url)
    finally:
        if own_instance:
            shutil.rmtree(os.environ["INSTANCE_PATH"], ignore_errors=True)
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)


def worker_bench_app(redis_url: str):
    """The app on `redis_url` with its database migrated and no embedded worker: (app, dialect)."""
    import logging

    from flask_migrate import upgrade

    os.environ.update(APP_ENV="development", REDIS_URL=redis_url, EMBEDDED_WORKER="0")
    from app import create_app
    from app.extensions import db

    app = create_app({"SERVER_NAME": None})
    with app.app_context():
        upgrade()
        dialect = db.engine.dialect.name
    logging.disable(logging.WARNING)
    return app, dialect


class Workers:
    """`python worker.py` processes, as the Procfile runs them."""

    def __init__(self, env: dict, connection):
        self.env, self.connection, self.processes = env, connection, []

    def start(self, count: int = 1) -> None:
        from rq import Worker

        before = len(Worker.all(connection=self.connection))
        for _ in range(count):
            self.processes.append(subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=self.env))
        deadline = time.monotonic() + 60
        while len(Worker.all(connection=self.connection)) < before + count:
            if time.monotonic() > deadline:
                raise SystemExit("workers did not start")
            time.sleep(0.05)

    def kill(self, process) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.processes.remove(process)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []


def noop() -> None:
    """The baseline job: nothing."""


def noop_rate(connection, count: int, queue_name: str) -> float:
    """No-op jobs/s on `queue_name`, from the first enqueue until every one has finished (by job id:
    the finished registry's count is no clock, its older entries expire during a long run)."""
    from rq import Queue
    from rq.job import Job, JobStatus

    queue = Queue(queue_name, connection=connection)
    started = time.perf_counter()
    ids = [queue.enqueue(noop).id for _ in range(count)]
    while True:
        if queue.count == 0:
            jobs = Job.fetch_many(ids, connection=connection)
            if all(job is not None and job.get_status(refresh=False) == JobStatus.FINISHED for job in jobs):
                return count / (time.perf_counter() - started)
        time.sleep(0.01)
