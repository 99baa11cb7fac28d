"""Outbound SMS per second through the outbox and the `outbound` queue to a local Twilio, with 1 and 2
worker processes, against RQ's no-op job rate; and a SIGKILL mid-batch that must send nothing twice.

    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python -m bench.outbound_throughput
    DATABASE_URL=postgresql://... REDIS_URL=... .venv/bin/python -m bench.outbound_throughput

Workers are real `python worker.py` processes (ProcessWorker: jobs run in the
worker's own process, no fork per job) on REDIS_URL; without REDIS_URL a
local redis-server is started on a free port if the binary exists, else the
bench is skipped. The database is DATABASE_URL, or an SQLite file in a temp dir.
Twilio is tests/fakes/twilio_server.FakeTwilio (real HTTP on 127.0.0.1, the
real `twilio` client in the workers), answering at once.

Per worker count (1, then 2), with the same running workers:
- no-op: BENCH_NOOP_JOBS (default 2000) jobs of a function that does nothing,
  on the `ingest` queue, from the first enqueue until RQ has finished them all;
- outbound: BENCH_MESSAGES (default 2000) outbox rows (agent replies to 200
  users, each body distinct), committed, then dispatched (one job per row, as
  the app does), from the first enqueue until every row is final in the
  database (each send: load the row, consent, claim, the Twilio POST, commit).

Crash test: BENCH_CRASH_MESSAGES (default 300) rows, the fake Twilio taking
50 ms per POST (so a kill lands mid-call), one worker SIGKILLed once a third
is sent, another started; the rows the kill left in 'sending' are reconciled by
the periodic sweep (OUTBOX_SWEEP_SECONDS=5 here) once stale (60 s), so this
part takes a minute or two. Then the fake's request log must show no body
POSTed twice and every row delivered/sent/failed/blocked.
"""

import collections
import os
import sys
import time
import uuid

from bench.common import ROOT, Workers, noop_rate, with_redis, worker_bench_app

MESSAGES = int(os.environ.get("BENCH_MESSAGES", 2000))
NOOP_JOBS = int(os.environ.get("BENCH_NOOP_JOBS", 2000))
CRASH_MESSAGES = int(os.environ.get("BENCH_CRASH_MESSAGES", 300))
USERS = 200
ACCOUNT_SID = "AC" + "c" * 32
AUTH_TOKEN = "cd" * 16
NUMBER = f"+1555{uuid.uuid4().int % 10_000_000:07d}"  # fresh each run (DATABASE_URL keeps old channels)
ENDED = ("sent", "delivered", "failed", "blocked")  # what the crash test accepts
FINAL = ENDED + ("read", "undelivered", "not_sent")


class Bench:
    def __init__(self, app, fake):
        from app.auth.services import register_creator
        from app.extensions import db
        from app.messaging.channels import claim_numbers, create_twilio_channel
        from app.models import EndUser

        self.app, self.fake = app, fake
        with app.app_context():
            member = register_creator(f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench-password-42", "B", "B")
            with app.test_request_context():
                channel = create_twilio_channel(
                    member.creator_id,
                    "sms",
                    "bench line",
                    {"account_sid": ACCOUNT_SID, "phone_numbers": [NUMBER]},
                    {"auth_token": AUTH_TOKEN},
                )
                claim_numbers(channel)  # the bench owns its number: no verification round trip
            self.creator_id, self.channel_id = member.creator_id, channel.id
            users = [
                EndUser(id=uuid.uuid4(), creator_id=self.creator_id, channel="sms", external_id=phone, phone_e164=phone)
                for phone in (f"+1666{uuid.uuid4().int % 10_000_000:07d}" for _ in range(USERS))
            ]
            db.session.add_all(users)
            db.session.commit()
            self.user_ids = [u.id for u in users]

    def queue_rows(self, count: int, tag: str) -> list:
        """`count` committed outbox rows, not dispatched yet."""
        from app.extensions import db
        from app.messaging import outbox
        from app.models import Channel, EndUser

        with self.app.app_context():
            channel = db.session.get(Channel, self.channel_id)
            users = [db.session.get(EndUser, i) for i in self.user_ids]
            rows = [
                outbox.queue_message(channel, users[n % USERS], f"{tag} {n}: stretch for ten minutes", "agent_reply")
                for n in range(count)
            ]
            for row in rows:
                row.from_address = NUMBER
            db.session.commit()
            return [row.id for row in rows]

    def dispatch(self, ids: list) -> None:
        from app.extensions import db
        from app.messaging import outbox
        from app.models import OutboundMessage

        with self.app.app_context():
            outbox.dispatch([db.session.get(OutboundMessage, i) for i in ids])

    def statuses(self, ids: list) -> collections.Counter:
        from sqlalchemy import func, select

        from app.extensions import db
        from app.models import OutboundMessage

        with self.app.app_context():
            found = db.session.execute(
                select(OutboundMessage.status, func.count())
                .where(OutboundMessage.creator_id == self.creator_id, OutboundMessage.id.in_(ids))
                .group_by(OutboundMessage.status)
            ).all()
            db.session.remove()
        return collections.Counter(dict(found))

    def wait_final(self, ids: list, timeout: float) -> collections.Counter:
        deadline = time.monotonic() + timeout
        while True:
            counts = self.statuses(ids)
            if sum(counts[s] for s in FINAL) == len(ids) or time.monotonic() > deadline:
                return counts
            time.sleep(0.02)


def outbound_rate(bench: Bench, count: int, tag: str) -> tuple[float, collections.Counter]:
    ids = bench.queue_rows(count, tag)
    started = time.perf_counter()
    bench.dispatch(ids)
    counts = bench.wait_final(ids, timeout=600)
    return count / (time.perf_counter() - started), counts


def crash_test(bench: Bench, workers: Workers) -> int:
    bench.fake.delay = 0.05
    ids = bench.queue_rows(CRASH_MESSAGES, "crash")
    posts_before = len(bench.fake.requests)
    workers.start(1)
    bench.dispatch(ids)
    while len(bench.fake.messages) < CRASH_MESSAGES // 3 + bench.sent_before_crash:
        time.sleep(0.005)
    victim = workers.processes[0]
    workers.kill(victim)
    killed_at = time.perf_counter()
    left_sending = bench.statuses(ids)["sending"]
    workers.start(1)
    counts = bench.wait_final(ids, timeout=300)
    recovered_s = time.perf_counter() - killed_at
    workers.stop()
    posts = [
        r.form.get("Body")
        for r in bench.fake.requests[posts_before:]
        if r.method == "POST" and r.path.endswith("/Messages.json") and r.form.get("Body", "").startswith("crash ")
    ]
    per_body = collections.Counter(posts)
    duplicates = sum(n - 1 for n in per_body.values() if n > 1)
    never_sent = CRASH_MESSAGES - len(per_body)
    ended = sum(counts[s] for s in ENDED)
    print(
        f"crash test: {CRASH_MESSAGES} messages, worker SIGKILLed after {CRASH_MESSAGES // 3} sent "
        f"(rows it left in 'sending': {left_sending}), a new worker started"
    )
    print(f"  all rows final after {recovered_s:.1f} s (stale sends are reconciled after 60 s)")
    print(f"  statuses: {dict(counts)}")
    print(f"  Twilio POSTs: {len(posts)} for {len(per_body)} distinct messages; messages never POSTed: {never_sent}")
    print(f"  DUPLICATES (a message POSTed twice): {duplicates}")
    print(f"  rows delivered/sent/failed/blocked: {ended} of {CRASH_MESSAGES}")
    return 0 if duplicates == 0 and ended == CRASH_MESSAGES and never_sent == 0 else 1


def main() -> int:
    return with_redis(run, "bench-outbound-")


def run(redis_url: str) -> int:
    from tests.fakes.twilio_server import FakeTwilio

    app, dialect = worker_bench_app(redis_url)
    connection = app.extensions["redis"]
    for queue in ("ingest", "outbound", "default"):
        connection.delete(f"rq:queue:{queue}")
    with FakeTwilio() as fake:
        fake.add_account(ACCOUNT_SID, AUTH_TOKEN)
        env = os.environ | {
            "TWILIO_API_BASE": fake.url,
            "OUTBOX_SWEEP_SECONDS": "5",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        bench = Bench(app, fake)
        workers = Workers(env, connection)
        try:
            return measure(app, bench, workers, connection, dialect, redis_url)
        finally:
            workers.stop()  # whatever happened, no worker outlives the bench


def measure(app, bench: Bench, workers: Workers, connection, dialect: str, redis_url: str) -> int:
    fake = bench.fake
    results = []
    for count in (1, 2):
        workers.start(count)
        noop_rate(connection, 100, "ingest")  # warm-up: imports, connections
        outbound_rate(bench, 100, f"warm-{count}")
        noop = noop_rate(connection, NOOP_JOBS, "ingest")
        sent, counts = outbound_rate(bench, MESSAGES, f"run-{count}")
        workers.stop()
        results.append((count, noop, sent, counts))
    print(
        f"outbound throughput: database {dialect}, Redis {redis_url}, `python worker.py` processes "
        "(ProcessWorker: no fork per job), fake Twilio on 127.0.0.1 answering at once"
    )
    print()
    print(f"{'workers':>7} {'no-op jobs/s':>13} {'outbound msgs/s':>16} {'outbound / no-op':>17}  final statuses")
    for count, noop, sent, counts in results:
        print(f"{count:7d} {noop:13.0f} {sent:16.0f} {sent / noop:17.2f}  {dict(counts)}")
    print()
    bench.sent_before_crash = len(fake.messages)
    return crash_test(bench, workers)


if __name__ == "__main__":
    sys.exit(main())
