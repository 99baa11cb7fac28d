"""Program steps per second for 10,000 enrollments due at the same moment, with 1 and 2 worker
processes, against RQ's no-op job rate on the same queue; and the lag from a step's due time to
its execution.

    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python -m bench.program_steps
    DATABASE_URL=postgresql://.../helper_bench REDIS_URL=redis://127.0.0.1:6379/14 \
        .venv/bin/python -m bench.program_steps
    ... -m bench.program_steps --quick        # 1,000 enrollments, to try it out

Workers are real `python worker.py` processes (ProcessWorker: jobs run in the worker's own process; each
also runs RQ's scheduler loop and the periodic tick, with the production sweep settings) on
REDIS_URL; without REDIS_URL a local redis-server is started if there is one. The database is
DATABASE_URL, or an SQLite file in a temporary instance.

Per worker count (1, then 2), with the same running workers:
- no-op: BENCH_NOOP_JOBS (default 2000) jobs of a function that does nothing, on the `default`
  queue (where step jobs run), from the first enqueue until RQ has finished them all;
- steps: BENCH_ENROLLMENTS (default 10,000) web users enrolled in one published version, inserted
  in bulk, all due at the same moment T a few seconds ahead; each gets its step job through
  `engine.schedule(id, 0, T)` (RQ's ScheduledJobRegistry, as a delay or a wait does in
  production), and RQ's scheduler in a worker releases them at T. One job runs the flow's
  immediate steps back to back: start -> welcome (message) -> condition -> tip (message) -> end,
  5 steps and 2 stored messages per enrollment. Timed from T until the last enrollment completed.
  Lag: each enrollment's first step, EnrollmentStep.executed_at - T.
"""

import collections
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta

from bench.common import ROOT, Workers, noop_rate, with_redis, worker_bench_app

QUICK = "--quick" in sys.argv
ENROLLMENTS = int(os.environ.get("BENCH_ENROLLMENTS", 1000 if QUICK else 10_000))
NOOP_JOBS = int(os.environ.get("BENCH_NOOP_JOBS", 500 if QUICK else 2000))
CHUNK = 1000  # rows per INSERT

FLOW = {
    "nodes": [
        {"id": "start", "type": "start", "data": {}},
        {"id": "welcome", "type": "send_message", "data": {"message": "Welcome {first_name|friend}, {program_name}!"}},
        {"id": "check", "type": "condition", "data": {"field": "profile.level", "operator": "exists"}},
        {"id": "tip", "type": "send_message", "data": {"message": "Today: ten easy minutes, {first_name|friend}."}},
        {"id": "end", "type": "end", "data": {}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "welcome"},
        {"id": "e2", "source": "welcome", "target": "check"},
        {"id": "e3", "source": "check", "target": "tip", "branch": "no"},
        {"id": "e4", "source": "check", "target": "end", "branch": "yes"},
        {"id": "e5", "source": "tip", "target": "end"},
    ],
}
STEPS_PER_ENROLLMENT = 5


class Bench:
    def __init__(self, app):
        from app.auth.services import register_creator

        self.app = app
        with app.app_context():
            member = register_creator(f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench-password-42", "B", "B Runs")
            self.creator_id = member.creator_id

    def program(self, name: str):
        from app.programs import services

        with self.app.app_context():
            program, _ = services.create_program(self.creator_id, {"name": name, "flow_definition": FLOW})
            version = services.publish(program)
            return program.id, version.id

    def insert(self, count: int, due_at) -> tuple:
        """`count` web users with a conversation, enrolled in a new program, all due at `due_at`."""
        from sqlalchemy import insert

        from app.extensions import db
        from app.models import Conversation, EndUser, EndUserIdentity, Enrollment
        from app.models.base import utcnow

        program_id, version_id = self.program(f"Bench {uuid.uuid4().hex[:6]}")
        tag, now, creator = uuid.uuid4().hex[:8], utcnow(), self.creator_id
        users, identities, conversations, enrollments = [], [], [], []
        for n in range(count):
            user_id, conversation_id, visitor = uuid.uuid4(), uuid.uuid4(), f"v_{tag}_{n}"
            mine = {"creator_id": creator, "channel": "web"}
            users.append({"id": user_id, "external_id": visitor, "display_name": f"Runner {n}", **mine})
            identities.append({"end_user_id": user_id, "external_id": visitor, **mine})
            conversations.append({"id": conversation_id, "end_user_id": user_id, "session_id": visitor, **mine})
            enrollments.append(
                {
                    "id": uuid.uuid4(),
                    "creator_id": creator,
                    "program_id": program_id,
                    "version_id": version_id,
                    "end_user_id": user_id,
                    "conversation_id": conversation_id,
                    "channel": "web",
                    "enrolled_via": "api",
                    "status": "active",
                    "current_node_id": "start",
                    "waiting_for": "ready",
                    "due_at": due_at,
                    "step_seq": 0,
                    "answers": {},
                    "progress": 0.0,
                    "enrolled_at": now,
                }
            )
        with self.app.app_context():
            for model, rows in ((EndUser, users), (EndUserIdentity, identities), (Conversation, conversations)):
                for i in range(0, count, CHUNK):
                    db.session.execute(insert(model), rows[i : i + CHUNK])
            for i in range(0, count, CHUNK):
                db.session.execute(insert(Enrollment), enrollments[i : i + CHUNK])
            db.session.commit()
        return program_id, [e["id"] for e in enrollments]

    def schedule(self, enrollment_ids: list, due_at) -> None:
        from app.programs import engine

        with self.app.app_context():
            for enrollment_id in enrollment_ids:
                engine.schedule(enrollment_id, 0, due_at)

    def completed(self, program_id) -> int:
        from sqlalchemy import func, select

        from app.extensions import db
        from app.models import Enrollment

        with self.app.app_context():
            return db.session.scalar(
                select(func.count()).where(Enrollment.program_id == program_id, Enrollment.status == "completed")
            )

    def figures(self, program_id, due_at) -> dict:
        from sqlalchemy import func, select

        from app.extensions import db
        from app.models import EnrollmentStep, Message

        with self.app.app_context():
            mine = EnrollmentStep.program_id == program_id
            first = db.session.scalars(select(EnrollmentStep.executed_at).where(mine, EnrollmentStep.seq == 0)).all()
            last_step = func.max(EnrollmentStep.executed_at)
            steps, last = db.session.execute(select(func.count(), last_step).where(mine)).one()
            outcomes = collections.Counter(
                dict(
                    db.session.execute(
                        select(EnrollmentStep.outcome, func.count())
                        .where(EnrollmentStep.program_id == program_id)
                        .group_by(EnrollmentStep.outcome)
                    ).all()
                )
            )
            messages = db.session.scalar(
                select(func.count()).where(Message.creator_id == self.creator_id, Message.created_at >= due_at)
            )
        lags = sorted((t - due_at).total_seconds() for t in first)
        return {
            "steps": steps,
            "outcomes": dict(outcomes),
            "messages": messages,
            "seconds": (last - due_at).total_seconds(),
            "lag": (
                lags[len(lags) // 2],
                lags[min(len(lags) - 1, int(len(lags) * 0.95))],
                lags[-1],
                statistics.fmean(lags),
            ),
        }


def run_batch(bench: Bench, count: int, timeout: float = 900) -> dict:
    from app.models.base import utcnow

    # T is a whole second: RQ's scheduler keeps whole seconds and engine.schedule rounds a due time
    # up to the next one, so a fractional T would add that rounding to every lag.
    lead = 3 + count / 2000  # time to insert and schedule them all before T
    due_at = (utcnow() + timedelta(seconds=lead)).replace(microsecond=0) + timedelta(seconds=1)
    started = time.perf_counter()
    program_id, ids = bench.insert(count, due_at)
    inserted = time.perf_counter()
    bench.schedule(ids, due_at)
    scheduled = time.perf_counter()
    late = utcnow() > due_at
    deadline = time.monotonic() + timeout
    while bench.completed(program_id) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {bench.completed(program_id)} of {count} enrollments completed in {timeout} s")
        time.sleep(0.2)
    figures = bench.figures(program_id, due_at)
    figures.update(insert_s=inserted - started, schedule_s=scheduled - inserted, scheduled_late=late)
    return figures


def main() -> int:
    return with_redis(run, "bench-programs-")


def run(redis_url: str) -> int:
    app, dialect = worker_bench_app(redis_url)
    connection = app.extensions["redis"]
    connection.flushdb()  # a bench database: old queues, scheduled jobs and workers would skew it
    env = os.environ | {"LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    bench = Bench(app)
    workers = Workers(env, connection)
    print(
        f"program steps: database {dialect}, Redis {redis_url}, worker.py processes (ProcessWorker), "
        f"{ENROLLMENTS} web enrollments due at the same moment, {STEPS_PER_ENROLLMENT} steps and 2 messages each, "
        "jobs released by RQ's scheduler (engine.schedule)",
        flush=True,
    )
    print(
        f"{'workers':>7} {'no-op jobs/s':>13} {'enrollments/s':>14} {'steps/s':>8} {'jobs / no-op':>13}"
        f" {'lag p50 s':>10} {'p95 s':>7} {'max s':>7}  steps, messages",
        flush=True,
    )
    results = []
    try:
        for count in (1, 2):
            workers.start(count)
            noop_rate(connection, 100, "default")  # warm-up: imports, connections, the version's graph
            run_batch(bench, 100)
            noop = noop_rate(connection, NOOP_JOBS, "default")
            f = run_batch(bench, ENROLLMENTS)
            workers.stop()
            results.append((count, noop, f))
            per_second = ENROLLMENTS / f["seconds"]
            p50, p95, worst, _ = f["lag"]
            print(
                f"{count:7d} {noop:13.0f} {per_second:14.1f} {f['steps'] / f['seconds']:8.0f}"
                f" {per_second / noop:13.3f} {p50:10.1f} {p95:7.1f} {worst:7.1f}  {f['steps']} {f['outcomes']},"
                f" {f['messages']}",
                flush=True,
            )
    finally:
        workers.stop()
    print()
    for count, _, f in results:
        late = " (T passed before all were scheduled: lags include that)" if f["scheduled_late"] else ""
        print(
            f"{count} worker(s): bulk insert {f['insert_s']:.1f} s, engine.schedule x{ENROLLMENTS} "
            f"{f['schedule_s']:.1f} s{late}; all {ENROLLMENTS} completed {f['seconds']:.1f} s after T"
        )
    ok = all(f["steps"] == ENROLLMENTS * STEPS_PER_ENROLLMENT and f["messages"] == 2 * ENROLLMENTS for *_, f in results)
    if not ok:
        print("MISMATCH: a step missing or run twice (steps or messages differ from the expected counts)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
