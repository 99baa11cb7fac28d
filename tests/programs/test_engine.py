"""The step engine on the real database and a real RQ worker: flows run end to end, a step runs
once however many workers see it or die in it, delays go through RQ's scheduler in the user's
time zone, quiet hours and consent hold back SMS, conditions branch, tenants stay apart."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rq.job import Job
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.scheduler import RQScheduler
from sqlalchemy import func, select, text, update

from app.assistant import services as assistant
from app.extensions import db
from app.jobs import all_queues, get_queue
from app.models import (
    Badge,
    Conversation,
    Creator,
    EndUser,
    Enrollment,
    EnrollmentStep,
    Message,
    OutboundMessage,
    Program,
    Tag,
    UserBadge,
)
from app.models.base import utcnow
from app.programs import engine, services, tasks
from tests.messaging.conftest import inbound_params, make_twilio_channel, signed_post, twilio  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
NEW_YORK = ZoneInfo("America/New_York")


# --- Flows and helpers ------------------------------------------------------------------


def node(node_id, kind, **data):
    return {"id": node_id, "type": kind, "position": {"x": 0, "y": 0}, "data": data}


def line(*nodes) -> dict:
    """start -> nodes… -> end."""
    nodes = [node("start", "start"), *nodes, node("end", "end")]
    edges = [
        {"id": f"e{i}", "source": a["id"], "target": b["id"]}
        for i, (a, b) in enumerate(zip(nodes, nodes[1:], strict=False))
    ]
    return {"nodes": nodes, "edges": edges}


HELLO = line(node("hello", "send_message", message="Hello {first_name|friend}"))


@pytest.fixture
def make_program(app):
    """make(account, flow, settings) -> id of a program published with that flow."""

    def make(account, definition, settings=None, name="Morning runs"):
        with app.app_context():
            program, _ = services.create_program(
                uuid.UUID(account.creator_id), {"name": name, "flow_definition": definition, "settings": settings or {}}
            )
            services.publish(program)
            return program.id

    return make


def enroll(app, program_id, user_id, channel="web", start=True) -> uuid.UUID:
    """Enroll through the service; `start=False` commits without enqueueing step 0 (tests run it)."""
    with app.app_context():
        user, program = db.session.get(EndUser, user_id), db.session.get(Program, program_id)
        enrollment = services.enroll(user, program, "api", channel, commit_and_start=start)
        if not start:
            db.session.commit()
        return enrollment.id


def enrollment_of(app, enrollment_id) -> Enrollment:
    with app.app_context():
        enrollment = db.session.get(Enrollment, enrollment_id)
        db.session.expunge(enrollment)
        return enrollment


def said(app, enrollment_id) -> list[str]:
    """What the program said in the enrollment's conversation, in order."""
    with app.app_context():
        conversation_id = db.session.get(Enrollment, enrollment_id).conversation_id
        rows = db.session.execute(
            select(Message.content, Message.answer_mode)
            .where(Message.conversation_id == conversation_id, Message.sender == "ai")
            .order_by(Message.created_at)
        ).all()
    assert all(mode == engine.PROGRAM_MODE for _, mode in rows)
    return [content for content, _ in rows]


def step_log(app, enrollment_id) -> list[tuple]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(EnrollmentStep.seq, EnrollmentStep.node_id, EnrollmentStep.outcome, EnrollmentStep.detail)
                .where(EnrollmentStep.enrollment_id == enrollment_id)
                .order_by(EnrollmentStep.seq)
            )
        ]


def answer(app, enrollment_id, reply: str):
    """The user's reply in the enrollment's conversation, as the widget and SMS hand it to the engine."""
    with app.app_context():
        conversation = db.session.get(Conversation, db.session.get(Enrollment, enrollment_id).conversation_id)
        result = engine.take_answer(conversation, reply)
        if result is not None:
            engine.after_commit(result)
        return result


def set_due(app, enrollment_id, due_at) -> None:
    """Time passes: the enrollment's next step became due at `due_at`."""
    with app.app_context():
        db.session.execute(update(Enrollment).where(Enrollment.id == enrollment_id).values(due_at=due_at))
        db.session.commit()


def scheduled_at(app, job_id) -> datetime | None:
    with app.app_context():
        registry = ScheduledJobRegistry(queue=get_queue("default"))
        return registry.get_scheduled_time(job_id) if job_id in registry.get_job_ids() else None


def close_to(a: datetime, b: datetime, seconds: float = 1.0) -> bool:
    return abs((a - b).total_seconds()) <= seconds


# --- The coaching flow end to end -------------------------------------------------------------


def test_coaching_flow_yes_runs_to_the_end_and_awards_the_badge_once(
    app, creator, published_program, web_user, run_jobs
):
    program_id, badge_id = published_program(creator)
    user_id = web_user(creator)
    enrollment_id = enroll(app, program_id, user_id)
    assert run_jobs() == 1  # one job: start, the welcome and the question back to back
    waiting = enrollment_of(app, enrollment_id)
    assert (waiting.status, waiting.waiting_for, waiting.current_node_id, waiting.due_at) == (
        "active",
        "answer",
        "ready",
        None,
    )
    assert said(app, enrollment_id) == ["Welcome Dana to Couch to 5k!", "Ready to run today?"]
    assert 0 < waiting.progress < 1

    assert answer(app, enrollment_id, "yes") is not None  # the choice, whatever its case
    assert run_jobs() == 1
    with app.app_context():
        badge_name = db.session.get(Badge, badge_id).name
        user = db.session.get(EndUser, user_id)
        assert user.profile_data["ready"] == "Yes"  # save_to profile, save_as ready
        assert (
            db.session.scalar(select(func.count()).select_from(UserBadge).where(UserBadge.end_user_id == user_id)) == 1
        )
        assert [m["badge_name"] for m in services.badges_of(user)] == [badge_name]
        replies = db.session.scalars(
            select(Message.content).where(Message.conversation_id == waiting.conversation_id, Message.sender == "user")
        ).all()
    assert replies == ["yes"]
    assert said(app, enrollment_id)[2:] == [f"You earned {badge_name}!", "Well done, Dana."]
    done = enrollment_of(app, enrollment_id)
    assert (done.status, done.waiting_for, done.progress, done.answers) == ("completed", "none", 1.0, {"ready": "Yes"})
    assert done.completed_at is not None and done.step_seq == 7
    assert step_log(app, enrollment_id) == [
        (0, "start", "done", None),
        (1, "welcome", "done", None),
        (2, "ready", "waiting", "waiting for the answer"),
        (3, "ready", "answered", "Yes"),
        (4, "check", "done", "took 'yes'"),
        (5, "badge", "done", f"awarded {badge_name}"),
        (6, "end", "done", "completed"),
    ]

    # Going through the program again earns no second badge (and says nothing about it).
    again = enroll(app, program_id, user_id)
    run_jobs()
    answer(app, again, "1")  # choice number 1 is Yes
    run_jobs()
    assert enrollment_of(app, again).status == "completed"
    assert (5, "badge", "done", f"already had {badge_name}") in step_log(app, again)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(UserBadge)) == 1
    assert said(app, again).count(f"You earned {badge_name}!") == 1  # one conversation: the first run's


def test_not_yet_waits_a_day_then_the_sweep_finishes_it(app, creator, published_program, web_user, run_jobs):
    program_id, _ = published_program(creator)
    enrollment_id = enroll(app, program_id, web_user(creator))
    run_jobs()
    answer(app, enrollment_id, "Not yet")
    run_jobs()
    waiting = enrollment_of(app, enrollment_id)
    wait_step = step_log(app, enrollment_id)[-1]
    assert wait_step[:3] == (5, "later", "done") and wait_step[3].startswith("waiting until ")
    with app.app_context():
        executed = db.session.scalar(select(EnrollmentStep.executed_at).where(EnrollmentStep.seq == 5))
    assert (waiting.status, waiting.current_node_id, waiting.waiting_for) == ("active", "end", "ready")
    assert close_to(waiting.due_at, executed + timedelta(hours=24))
    job_id = engine.step_job_id(enrollment_id, 6)
    assert close_to(scheduled_at(app, job_id), waiting.due_at)

    # Nothing more runs before then: no job is queued and the sweep sees nothing due.
    assert run_jobs() == 0
    with app.app_context():
        assert tasks.sweep_programs() == {"enqueued": 0}
    assert said(app, enrollment_id) == ["Welcome Dana to Couch to 5k!", "Ready to run today?"]

    set_due(app, enrollment_id, utcnow() - timedelta(hours=1))
    with app.app_context():
        assert tasks.sweep_programs() == {"enqueued": 0}  # its scheduled job still waits: no second one
        Job.fetch(job_id, connection=get_queue().connection).delete()  # the scheduler lost it
        assert tasks.sweep_programs() == {"enqueued": 1}
        assert tasks.sweep_programs() == {"enqueued": 0}  # queued now: not twice
    assert run_jobs() == 1
    done = enrollment_of(app, enrollment_id)
    assert (done.status, done.progress) == ("completed", 1.0)
    assert said(app, enrollment_id)[-1] == "Well done, Dana."
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(UserBadge)) == 0


# --- A step never runs twice -----------------------------------------------------------------


def test_a_step_run_twice_or_late_says_nothing_more(app, creator, make_program, web_user, run_jobs):
    enrollment_id = enroll(app, make_program(creator, HELLO), web_user(creator, "Sam Lee"), start=False)
    with app.app_context():
        assert engine.run_step(enrollment_id, 0).run_next_now  # start
        assert engine.run_step(enrollment_id, 1) is not None  # the message
        assert engine.run_step(enrollment_id, 1) is None  # the same step again
        assert engine.run_step(enrollment_id, 0) is None  # a stale job
        assert engine.run_step(enrollment_id, 9) is None  # not its turn yet
        engine.schedule(enrollment_id, 1, None)  # the same jobs through RQ: no-ops
        engine.schedule(enrollment_id, 0, None)
    assert run_jobs() == 2
    assert said(app, enrollment_id) == ["Hello Sam"]
    assert [s[:2] for s in step_log(app, enrollment_id)] == [(0, "start"), (1, "hello")]
    with app.app_context():
        assert engine.run_steps(enrollment_id, 2) == 1
        assert engine.run_steps(enrollment_id, 2) == 0
    assert enrollment_of(app, enrollment_id).status == "completed"
    assert said(app, enrollment_id) == ["Hello Sam"]


def race(app, work, threads: int = 2) -> tuple[list, list]:
    """`work()` in `threads` threads released together, each in its own app context (its own
    session); returns their results and exceptions."""
    barrier, results, errors = threading.Barrier(threads), [], []

    def run():
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                results.append(work())
        except Exception as error:  # reported to the test: a thread's exception would be lost
            errors.append(error)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=30)
    return results, errors


def test_two_workers_on_the_same_step_at_once_run_it_once(app, creator, make_program, web_user):
    """Two threads, each with its own session, start the same step together. On PostgreSQL the
    second claim waits on the row lock and then finds the step number moved on; on SQLite the
    file lock serialises the two transactions to the same end."""
    program_id = make_program(creator, HELLO)
    enrollment_ids = [enroll(app, program_id, web_user(creator, f"Racer {n}"), start=False) for n in range(10)]
    with app.app_context():
        for enrollment_id in enrollment_ids:
            engine.run_step(enrollment_id, 0)
    for enrollment_id in enrollment_ids:
        results, errors = race(app, lambda enrollment_id=enrollment_id: engine.run_step(enrollment_id, 1) is not None)
        assert errors == [] and sorted(results) == [False, True]
        assert said(app, enrollment_id) == ["Hello Racer"]
        assert [s[:2] for s in step_log(app, enrollment_id)] == [(0, "start"), (1, "hello")]


# SQLite: the step in a process of its own that stops inside its transaction, every write of the
# step done and COMMIT not yet sent (the engine's "commit" event fires just before it), and says so.
SQLITE_STEP = """
import sys, time
from pathlib import Path
from sqlalchemy import event
from sqlalchemy.engine import Engine
from app import create_app
from app.programs.tasks import run_program_steps
app = create_app()

@event.listens_for(Engine, "commit")
def hold_before_commit(connection):
    Path(sys.argv[3]).touch()
    time.sleep(3600)

with app.app_context():
    run_program_steps(sys.argv[1], int(sys.argv[2]))
"""


def _wait_for(condition, timeout=60.0, what="the worker to block"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_worker_killed_mid_step_commits_nothing_and_the_sweep_runs_the_step_once(
    app, backend, creator, make_program, web_user, run_jobs
):
    """A real process runs the step and is SIGKILLed inside its transaction, after the claim.

    To hold it there: on PostgreSQL the test locks the conversation row the step's message
    points to and updates (`worker.py` takes the job from Redis and waits on that lock); on SQLite
    (WAL: a reader blocks no writer) the step process pauses itself just before COMMIT.
    """
    enrollment_id = enroll(app, make_program(creator, HELLO), web_user(creator, "Kim Park"), start=False)
    with app.app_context():
        engine.run_step(enrollment_id, 0)  # start: the next step is the message
        conversation_id = db.session.get(Enrollment, enrollment_id).conversation_id
    env = os.environ | {"LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    if backend == "postgresql":
        with app.app_context():
            blocker = db.engine.connect()
        transaction = blocker.begin()
        blocker.execute(text("SELECT id FROM conversations WHERE id = :id FOR UPDATE"), {"id": conversation_id})
        process = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env)
        with app.app_context():
            engine.schedule(enrollment_id, 1, None)

        def blocked_backend():  # a backend of this database waiting for a lock: ours (a fresh snapshot each time)
            with app.app_context():
                return db.session.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'"
                    )
                ).scalar()

        release = transaction.rollback
    else:
        holding = Path(app.instance_path) / f"step-holding-{uuid.uuid4().hex}"
        process = subprocess.Popen(
            [sys.executable, "-c", SQLITE_STEP, str(enrollment_id), "1", str(holding)], cwd=ROOT, env=env
        )

        def blocked_backend():  # the step wrote its claim, message and log row, and is about to commit
            return holding.exists() and process.poll() is None

        def release():
            holding.unlink(missing_ok=True)

        blocker = None

    try:
        _wait_for(blocked_backend)
        worker_backend = blocked_backend()
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        release()
        if blocker is not None:
            blocker.close()
    if backend == "postgresql":  # the dead client's backend aborts its transaction once it sees the socket closed
        with app.app_context():
            _wait_for(
                lambda: (
                    not db.session.execute(
                        text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": worker_backend}
                    ).scalar()
                ),
                what="the killed worker's transaction to end",
            )
            db.session.rollback()

    # Nothing of the step was committed: not the claim, not the message, not its log row.
    killed = enrollment_of(app, enrollment_id)
    assert (killed.step_seq, killed.current_node_id, killed.status) == (1, "hello", "active")
    assert said(app, enrollment_id) == []
    assert [s[:2] for s in step_log(app, enrollment_id)] == [(0, "start")]

    saved = app.config["PROGRAM_SWEEP_GRACE_SECONDS"]
    app.config["PROGRAM_SWEEP_GRACE_SECONDS"] = 0
    try:
        with app.app_context():
            if backend == "postgresql":
                # RQ still counts the dead worker's job as started, so the sweep leaves it…
                assert tasks.sweep_programs() == {"enqueued": 0}
                # …until RQ's maintenance finds it abandoned (its time in the started registry is up).
                StartedJobRegistry(queue=get_queue("default")).cleanup(time.time() + 3600)
            assert tasks.sweep_programs() == {"enqueued": 1}
    finally:
        app.config["PROGRAM_SWEEP_GRACE_SECONDS"] = saved
    assert run_jobs() == 1
    assert said(app, enrollment_id) == ["Hello Kim"]
    assert [s[:3] for s in step_log(app, enrollment_id)] == [
        (0, "start", "done"),
        (1, "hello", "done"),
        (2, "end", "done"),
    ]
    assert enrollment_of(app, enrollment_id).status == "completed"


# --- Delays and time zones ---------------------------------------------------------------------


def test_a_delayed_message_waits_in_rqs_scheduler(app, creator, make_program, web_user, run_jobs):
    definition = line(
        node("first", "send_message", message="Day one"),
        node("later", "send_message", message="Two hours later", delay_hours=2),
    )
    enrollment_id = enroll(app, make_program(creator, definition), web_user(creator))
    assert run_jobs() == 1
    assert said(app, enrollment_id) == ["Day one"]
    waiting = enrollment_of(app, enrollment_id)
    with app.app_context():
        executed = db.session.scalar(select(EnrollmentStep.executed_at).where(EnrollmentStep.seq == 1))
    assert (waiting.current_node_id, waiting.step_seq) == ("later", 2)
    assert close_to(waiting.due_at, executed + timedelta(hours=2))
    job_id = engine.step_job_id(enrollment_id, 2)
    assert close_to(scheduled_at(app, job_id), waiting.due_at)
    assert run_jobs() == 0

    with app.app_context():
        assert tasks.run_program_steps(str(enrollment_id), 2) == 0  # fired early (by hand): not due, nothing
    assert said(app, enrollment_id) == ["Day one"]

    # Two hours later RQ's scheduler moves the job to its queue, and a worker runs it.
    set_due(app, enrollment_id, utcnow() - timedelta(seconds=1))
    with app.app_context():
        connection = get_queue().connection
        ScheduledJobRegistry(queue=get_queue("default")).schedule(
            Job.fetch(job_id, connection=connection), datetime.now(UTC) - timedelta(seconds=1)
        )
        scheduler = RQScheduler(all_queues(connection), connection=connection)
        scheduler.acquire_locks()
        scheduler.enqueue_scheduled_jobs()
        scheduler.release_locks()
    assert run_jobs() == 1
    assert said(app, enrollment_id) == ["Day one", "Two hours later"]
    assert enrollment_of(app, enrollment_id).status == "completed"


def test_a_step_released_by_the_scheduler_in_its_due_second_still_runs(app, creator, make_program, web_user, run_jobs):
    definition = line(
        node("first", "send_message", message="Day one"),
        node("later", "send_message", message="Later", delay_hours=2),
    )
    enrollment_id = enroll(app, make_program(creator, definition), web_user(creator))
    run_jobs()
    job_id = engine.step_job_id(enrollment_id, 2)
    with app.app_context():
        Job.fetch(job_id, connection=get_queue().connection).delete()
    # Due 0.9 s into the next second: RQ's scheduled registry keeps whole seconds, so without the
    # rounding up in engine.schedule the job came out at the start of that second, not due yet.
    due = utcnow().replace(microsecond=0) + timedelta(seconds=1, microseconds=900_000)
    set_due(app, enrollment_id, due)
    with app.app_context():
        engine.schedule(enrollment_id, 2, due)
        connection = get_queue().connection
    scheduler = RQScheduler(all_queues(connection), connection=connection)
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline and said(app, enrollment_id) == ["Day one"]:
        with app.app_context():
            scheduler.acquire_locks()
            scheduler.enqueue_scheduled_jobs()
            scheduler.release_locks()
        run_jobs()
        time.sleep(0.05)
    assert said(app, enrollment_id) == ["Day one", "Later"]


def _local(hour, minute=0, day=15, month=1, year=2025, zone=NEW_YORK) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


@pytest.mark.parametrize(
    "now, data, expected",
    [
        # 23:00 in New York waiting until 08:00: the next morning, 08:00 New York time
        (_local(23), {"until_time": "08:00"}, _local(8, day=16)),
        (_local(7, 30), {"until_time": "08:00"}, _local(8)),  # still before it today
        (_local(8), {"until_time": "08:00"}, _local(8, day=16)),  # exactly then: tomorrow
        # 2025-01-15 is a Wednesday
        (_local(10), {"until_time": "09:00", "weekday": "friday"}, _local(9, day=17)),
        (_local(10), {"until_time": "09:00", "weekday": "wednesday"}, _local(9, day=22)),  # passed: next week
        (_local(8), {"until_time": "09:00", "weekday": "wednesday"}, _local(9)),  # later today
        (_local(23, day=19), {"until_time": "08:00", "weekday": "monday"}, _local(8, day=20)),  # Sunday night
        # Daylight saving: clocks go forward on 2025-03-09 and back on 2025-11-02 in New York
        (_local(23, day=8, month=3), {"until_time": "08:00"}, _local(8, day=9, month=3)),
        (_local(23, day=1, month=11), {"until_time": "08:00"}, _local(8, day=2, month=11)),
        (_local(12, day=7, month=3), {"until_time": "12:00", "weekday": "friday"}, _local(12, day=14, month=3)),
        (_local(23), {"hours": 24}, _local(23, day=16)),
        (_local(23), {"hours": 0.5}, _local(23, 30)),
    ],
)
def test_wake_time_in_the_users_time_zone(now, data, expected):
    assert engine.wake_time(data, NEW_YORK, now) == expected


def test_daylight_saving_nights_are_shorter_and_longer_in_real_hours():
    spring = engine.wake_time({"until_time": "08:00"}, NEW_YORK, _local(23, day=8, month=3))
    autumn = engine.wake_time({"until_time": "08:00"}, NEW_YORK, _local(23, day=1, month=11))
    assert spring - _local(23, day=8, month=3) == timedelta(hours=8)
    assert autumn - _local(23, day=1, month=11) == timedelta(hours=10)
    assert spring.astimezone(NEW_YORK).hour == autumn.astimezone(NEW_YORK).hour == 8


def test_a_wait_until_a_time_uses_the_users_zone_then_the_creators(app, creator, make_program, web_user, run_jobs):
    definition = line(node("night", "wait", until_time="08:00"), node("hello", "send_message", message="Morning"))
    program_id = make_program(creator, definition)
    in_new_york, no_zone = web_user(creator, "Ny User"), web_user(creator, "Zoneless")
    with app.app_context():
        db.session.get(EndUser, in_new_york).timezone = "America/New_York"
        db.session.get(Creator, uuid.UUID(creator.creator_id)).timezone = "Asia/Tokyo"
        db.session.commit()
    for user_id, zone in ((in_new_york, NEW_YORK), (no_zone, ZoneInfo("Asia/Tokyo"))):
        enrollment_id = enroll(app, program_id, user_id)
        run_jobs()
        waiting = enrollment_of(app, enrollment_id)
        with app.app_context():
            executed = db.session.scalar(
                select(EnrollmentStep.executed_at).where(
                    EnrollmentStep.enrollment_id == enrollment_id, EnrollmentStep.node_id == "night"
                )
            )
        assert waiting.due_at == engine.wake_time({"until_time": "08:00"}, zone, executed)
        local = waiting.due_at.astimezone(zone)
        assert (local.hour, local.minute) == (8, 0) and timedelta(0) < waiting.due_at - executed <= timedelta(hours=24)
        assert close_to(scheduled_at(app, engine.step_job_id(enrollment_id, 2)), waiting.due_at)
        assert said(app, enrollment_id) == []


# --- Quiet hours and consent on SMS ---------------------------------------------------------------


def zone_where_it_is(hour: int) -> str:
    """A fixed-offset zone whose local time is now `hour`:MM (Etc/GMT-5 is UTC+5)."""
    now = datetime.now(UTC)
    offset = next(o for o in range(-12, 15) if (now.hour + o) % 24 == hour)
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


@pytest.fixture
def sms_user(app, client, make_twilio_channel):  # noqa: F811
    """make(account, phone, timezone) -> (id of an opted-in user with a phone, made through the API;
    the auth token of the creator's SMS line +15550001111, to sign inbound webhooks)."""

    def make(account, phone="+15557654321", zone=None):
        channel, token = make_twilio_channel(account, "sms", "+15550001111")
        verified = client.post(f"/api/v1/channels/{channel['id']}/verify", headers=account.headers)
        assert verified.status_code == 200 and verified.json["status"] == "active", verified.json
        response = client.post(
            "/api/v1/users",
            headers=account.headers,
            json={"phone_e164": phone, "display_name": "Sol Texter", "consent_state": "OPT_IN"},
        )
        assert response.status_code == 201, response.json
        user_id = uuid.UUID(response.json["id"])
        if zone:
            with app.app_context():
                db.session.get(EndUser, user_id).timezone = zone
                db.session.commit()
        return user_id, token

    return make


def outbox_bodies(app, creator_id) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(OutboundMessage.source, OutboundMessage.body)
                .where(OutboundMessage.creator_id == uuid.UUID(creator_id))
                .order_by(OutboundMessage.created_at)
            )
        ]


def test_sms_at_23_local_waits_for_08_but_the_widget_does_not(app, creator, make_program, sms_user, web_user, run_jobs):
    zone_name = zone_where_it_is(23)
    zone = ZoneInfo(zone_name)
    program_id = make_program(creator, HELLO)  # the default quiet hours: 21:00 to 08:00
    texter, _ = sms_user(creator, zone=zone_name)
    enrollment_id = enroll(app, program_id, texter, channel="sms")
    run_jobs()
    deferred = enrollment_of(app, enrollment_id)
    [start, step] = step_log(app, enrollment_id)
    assert start[:3] == (0, "start", "done") and step[:3] == (1, "hello", "deferred")
    assert step[3].startswith("quiet hours: sent at ")
    local = deferred.due_at.astimezone(zone)
    assert (local.hour, local.minute) == (8, 0) and deferred.due_at - utcnow() <= timedelta(hours=9)
    assert (deferred.current_node_id, deferred.step_seq, deferred.status) == ("hello", 2, "active")
    assert close_to(scheduled_at(app, engine.step_job_id(enrollment_id, 2)), deferred.due_at)
    assert outbox_bodies(app, creator.creator_id) == [] and said(app, enrollment_id) == []
    with app.app_context():
        assert db.session.scalar(select(EnrollmentStep.due_at).where(EnrollmentStep.seq == 1)) == deferred.due_at

    # The same program at the same local hour on the widget: nobody's phone buzzes, so it goes now.
    visitor = web_user(creator, "Wes Web")
    with app.app_context():
        db.session.get(EndUser, visitor).timezone = zone_name
        db.session.commit()
    on_web = enroll(app, program_id, visitor)
    run_jobs()
    assert said(app, on_web) == ["Hello Wes"]
    assert enrollment_of(app, on_web).status == "completed"


def test_stop_mid_program_exits_at_the_next_message_with_nothing_queued(
    app,
    client,
    creator,
    make_program,
    sms_user,
    twilio,  # noqa: F811
    run_jobs,
):
    definition = line(
        node("hello", "send_message", message="Hello {first_name}"),
        node("tomorrow", "send_message", message="Day two", delay_hours=1),
    )
    program_id = make_program(creator, definition, settings={"quiet_hours": None})
    texter, token = sms_user(creator)
    enrollment_id = enroll(app, program_id, texter, channel="sms")
    run_jobs()
    assert outbox_bodies(app, creator.creator_id) == [("program", "Hello Sol")]
    assert [m["body"] for m in twilio.sent] == ["Hello Sol"]

    response = signed_post(client, "/webhooks/inbound", inbound_params(body="STOP", from_="+15557654321"), token)
    assert response.status_code == 200
    run_jobs()
    with app.app_context():
        assert db.session.get(EndUser, texter).consent_state == "STOP"
    sent_after_stop = len(twilio.sent)

    set_due(app, enrollment_id, utcnow() - timedelta(minutes=1))
    with app.app_context():
        assert tasks.run_program_steps(str(enrollment_id), 2) == 1  # its scheduled job, come due
    run_jobs()
    stopped = enrollment_of(app, enrollment_id)
    assert (stopped.status, stopped.exit_reason, stopped.waiting_for) == (
        "exited",
        "stopped: the user's consent is STOP",
        "none",
    )
    assert step_log(app, enrollment_id)[-1] == (2, "tomorrow", "blocked", "stopped: the user's consent is STOP")
    assert [row for row in outbox_bodies(app, creator.creator_id) if row[0] == "program"] == [("program", "Hello Sol")]
    assert len(twilio.sent) == sent_after_stop
    assert said(app, enrollment_id) == ["Hello Sol"]

    # Enrolling them again on SMS is refused while they are opted out.
    with app.app_context():
        from app.api.errors import ApiError

        with pytest.raises(ApiError) as refused:
            services.enroll(db.session.get(EndUser, texter), db.session.get(Program, program_id), "api", "sms")
    assert refused.value.code == 422 and "has not opted in" in refused.value.description


# --- Conditions and variables ------------------------------------------------------------------


@pytest.mark.parametrize(
    "actual, operator, expected, holds",
    [
        ("Yes", "equals", "yes", True),
        (" yes ", "equals", "YES", True),
        ("No", "equals", "yes", False),
        (None, "equals", "yes", False),
        ("No", "not_equals", "yes", True),
        ("Yes", "not_equals", "yes", False),
        (None, "not_equals", "yes", True),
        ("I run 5k a week", "contains", "5K", True),
        ("I walk", "contains", "run", False),
        (None, "contains", "run", False),
        ("beginner", "in", "beginner, intermediate", True),
        ("expert", "in", "beginner,intermediate", False),
        ("x", "exists", None, True),
        ("", "exists", None, False),
        (None, "exists", None, False),
        (None, "not_exists", None, True),
        ("", "not_exists", None, True),
        ("x", "not_exists", None, False),
        ("12", "greater_than", "10", True),
        (12.5, "greater_than", 12.5, False),
        ("9", "less_than", "10", True),
        ("ten", "greater_than", "5", False),  # not a number: the condition does not hold
        (None, "less_than", "5", False),
    ],
)
def test_compare(actual, operator, expected, holds):
    assert engine.compare(actual, operator, expected) is holds


def test_conditions_read_answers_profile_attributes_memory_and_tags(app, creator, make_program, web_user):
    user_id = web_user(creator)
    enrollment_id = enroll(app, make_program(creator, HELLO), user_id, start=False)
    with app.app_context():
        user = db.session.get(EndUser, user_id)
        user.profile_data = {"goal": "5k", "weekly_km": "12"}
        user.attributes = {"plan": "pro"}
        assistant.remember(user, "injury", "left knee")
        db.session.add(Tag(creator_id=user.creator_id, end_user_id=user.id, tag="VIP"))
        enrollment = db.session.get(Enrollment, enrollment_id)
        enrollment.answers = {"ready": "Not yet"}
        db.session.commit()
        cases = [
            ("answer.ready", "equals", "not yet", True),
            ("answer.ready", "equals", "yes", False),
            ("answer.other", "not_exists", None, True),
            ("profile.goal", "in", "5k,10k", True),
            ("profile.weekly_km", "greater_than", "10", True),
            ("profile.weekly_km", "less_than", "10", False),
            ("profile.shoe", "exists", None, False),
            ("attribute.plan", "equals", "pro", True),
            ("attribute.plan", "not_equals", "pro", False),
            ("memory.injury", "contains", "knee", True),
            ("memory.diet", "exists", None, False),
            ("tag", "equals", "vip", True),
            ("tag", "contains", "VIP", True),
            ("tag", "equals", "newbie", False),
            ("tag", "not_equals", "newbie", True),
            ("tag", "not_equals", "vip", False),
            ("tag", "exists", None, True),
            ("tag", "not_exists", None, False),  # the user has a tag
            ("tag", "in", "newbie, vip", True),
            ("tag", "in", "newbie,beta", False),
            ("tag", "contains", "v", True),
        ]
        got = [
            (
                field,
                operator,
                value,
                engine.evaluate({"field": field, "operator": operator, "value": value}, enrollment, user),
            )
            for field, operator, value, _ in cases
        ]
    assert got == [(f, o, v, holds) for f, o, v, holds in cases]


def test_a_condition_in_a_flow_takes_its_branch(app, creator, make_program, web_user, run_jobs):
    definition = {
        "nodes": [
            node("start", "start"),
            node("check", "condition", field="profile.goal", operator="equals", value="10k"),
            node("long", "send_message", message="Long runs for {profile.goal}"),
            node("short", "send_message", message="Short runs"),
            node("end", "end"),
        ],
        "edges": [
            {"id": "e0", "source": "start", "target": "check"},
            {"id": "y", "source": "check", "target": "long", "branch": "yes"},
            {"id": "n", "source": "check", "target": "short", "branch": "no"},
            {"id": "e1", "source": "long", "target": "end"},
            {"id": "e2", "source": "short", "target": "end"},
        ],
    }
    program_id = make_program(creator, definition)
    ten_k, other = web_user(creator, "Ten K"), web_user(creator, "Other")
    with app.app_context():
        db.session.get(EndUser, ten_k).profile_data = {"goal": "10K"}
        db.session.commit()
    first, second = enroll(app, program_id, ten_k), enroll(app, program_id, other)
    run_jobs()
    assert said(app, first) == ["Long runs for 10K"] and said(app, second) == ["Short runs"]
    assert step_log(app, first)[1] == (1, "check", "done", "took 'yes'")
    assert step_log(app, second)[1] == (1, "check", "done", "took 'no'")


def test_a_variable_no_user_has_renders_blank_or_its_fallback(app, creator, make_program, web_user, run_jobs):
    definition = line(
        node("hi", "send_message", message="Hi {first_name|friend}, your {profile.shoe_size} shoes{memory.nothing}."),
        node("plan", "send_message", message="Plan: {attribute.plan|free} for {program_name}"),
    )
    program_id = make_program(creator, definition, name="Shoes")
    with app.app_context():
        user = assistant.get_or_create_end_user(uuid.UUID(creator.creator_id), "web", f"v_{uuid.uuid4().hex}")
        db.session.commit()
        user_id = user.id
    enrollment_id = enroll(app, program_id, user_id)
    run_jobs()
    assert said(app, enrollment_id) == ["Hi friend, your shoes.", "Plan: free for Shoes"]


# --- Tenants -------------------------------------------------------------------------------------


def test_an_answer_in_one_creators_conversation_never_moves_anothers_enrollment(
    app, two_creators, published_program, run_jobs
):
    alice, bob = two_creators
    enrollments = {}
    for account in (alice, bob):
        program_id, _ = published_program(account)
        with app.app_context():  # the same visitor id on both creators' websites: two separate users
            user = assistant.get_or_create_end_user(uuid.UUID(account.creator_id), "web", "v_shared_visitor")
            user.display_name = "Pat Shared"
            db.session.commit()
            user_id = user.id
        enrollments[account.creator_id] = enroll(app, program_id, user_id)
    run_jobs()
    before = enrollment_of(app, enrollments[bob.creator_id])
    assert before.waiting_for == "answer"

    assert answer(app, enrollments[alice.creator_id], "Yes") is not None
    run_jobs()
    assert enrollment_of(app, enrollments[alice.creator_id]).status == "completed"
    after = enrollment_of(app, enrollments[bob.creator_id])
    assert (after.status, after.waiting_for, after.step_seq, after.answers) == (
        "active",
        "answer",
        before.step_seq,
        {},
    )
    assert len(step_log(app, enrollments[bob.creator_id])) == 3
    with app.app_context():
        bob_conversation = db.session.get(Conversation, after.conversation_id)
        assert bob_conversation.creator_id == uuid.UUID(bob.creator_id)
        assert engine.waiting_enrollment(bob_conversation).id == after.id
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.conversation_id == bob_conversation.id, Message.sender == "user")
            )
            == 0
        )
        assert (
            db.session.scalar(
                select(func.count()).select_from(UserBadge).where(UserBadge.creator_id == uuid.UUID(bob.creator_id))
            )
            == 0
        )
