"""The engine that runs enrollments through their program version, one step at a time.

A step is the work of one node for one enrollment. It runs in a job
(`tasks.run_steps`), and exactly once: the job carries the step number it
expects, and the step's claim (`UPDATE enrollments SET step_seq = n + 1 WHERE
step_seq = n AND …`), its effects (messages, outbox rows, badges, answers) and
its log row commit in ONE transaction. A second worker with the same job finds
the number moved on and does nothing; a worker that dies mid-step commits
nothing and the sweep runs the step again. What leaves the database (the SMS,
the widget push) happens after the commit: SMS through the outbox, which has
its own exactly-once claim; a lost widget push is in the history on reconnect.

Delays: moving to a send_message with a delay or through a wait sets `due_at`,
and RQ's scheduler runs the job then (the sweep catches any job it lost).
Messages to SMS/WhatsApp wait out the program's quiet hours in the user's time
zone and need the user's opt-in (a message we start); web widget messages
are not pushed to a phone, so quiet hours do not hold them back.
"""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.services import persona_for
from app.assistant import services as assistant
from app.audience.consent import may_send
from app.extensions import db
from app.messaging import outbox
from app.messaging.channels import TWILIO_TYPES
from app.models import (
    Badge,
    Channel,
    Conversation,
    Creator,
    EndUser,
    EndUserIdentity,
    Enrollment,
    EnrollmentStatus,
    EnrollmentStep,
    Memory,
    Program,
    ProgramVersion,
    Tag,
    UserBadge,
)
from app.models.base import utcnow
from app.programs import flow
from app.realtime import publish

log = logging.getLogger(__name__)
MAX_STEPS_PER_JOB = 50  # immediate steps run back to back in one job; a valid flow pauses long before
DEFAULT_QUIET_HOURS = {"start": "21:00", "end": "08:00"}
PROGRAM_MODE = "program"  # Message.answer_mode of what a program says
_GRAPHS: dict[uuid.UUID, flow.Graph] = {}  # versions never change, so their graphs are cached


@dataclass
class StepResult:
    """What a committed step leaves to do: sends, pushes, and whether the next step is due now."""

    outbound: list = field(default_factory=list)
    frames: list = field(default_factory=list)  # (conversation id, widget frame)
    run_next_now: bool = False
    due_at: datetime | None = None


def graph_of(version: ProgramVersion) -> flow.Graph:
    graph = _GRAPHS.get(version.id)
    if graph is None:
        graph = _GRAPHS[version.id] = flow.Graph(version.flow_definition)
    return graph


# --- Running steps ----------------------------------------------------------------


def run_steps(enrollment_id: uuid.UUID, seq: int) -> int:
    """Run the step numbered `seq` and every immediate one after it; returns how many ran."""
    ran = 0
    while ran < MAX_STEPS_PER_JOB:
        result = run_step(enrollment_id, seq)
        if result is None:
            break
        ran += 1
        after_commit(result)
        if not result.run_next_now:
            if result.due_at is not None:
                schedule(enrollment_id, seq + 1, result.due_at)
            break
        seq += 1
    return ran


def run_step(enrollment_id: uuid.UUID, seq: int) -> StepResult | None:
    """One step, committed; None when it is not this step's turn (already run, not due, finished)."""
    enrollment = db.session.get(Enrollment, enrollment_id)
    now = utcnow()
    if not _runnable(enrollment, seq, now):
        db.session.rollback()
        return None
    version = db.session.get(ProgramVersion, enrollment.version_id)
    graph = graph_of(version)
    node_id = enrollment.current_node_id
    prepared = _prepare(enrollment, graph, node_id)  # slow, read-only work (an AI answer) before the claim
    if not _claim(enrollment, seq, now, "ready"):
        db.session.rollback()
        return None
    db.session.refresh(enrollment)
    result = StepResult()
    outcome, detail = _execute(enrollment, version, graph, node_id, now, result, prepared)
    due_at = enrollment.due_at if outcome == "deferred" else None
    _log_step(enrollment, seq, node_id, graph.node(node_id)["type"], outcome, detail, now, due_at)
    try:
        db.session.commit()
    except IntegrityError:  # the same step logged by another worker: theirs stands
        db.session.rollback()
        return None
    return result


def _log_step(enrollment, seq, node_id, node_type, outcome, detail, now, due_at=None) -> None:
    """The step's row: its unique (enrollment, seq) is what makes a second run of it fail to commit."""
    db.session.add(
        EnrollmentStep(
            creator_id=enrollment.creator_id,
            enrollment_id=enrollment.id,
            program_id=enrollment.program_id,
            seq=seq,
            node_id=node_id,
            node_type=node_type,
            outcome=outcome,
            detail=(detail or "")[:500] or None,
            due_at=due_at,
            executed_at=now,
        )
    )


def _runnable(enrollment: Enrollment | None, seq: int, now: datetime) -> bool:
    return (
        enrollment is not None
        and enrollment.status == EnrollmentStatus.ACTIVE
        and enrollment.waiting_for == "ready"
        and enrollment.step_seq == seq
        and (enrollment.due_at is None or enrollment.due_at <= now)
    )


def _claim(enrollment: Enrollment, seq: int, now: datetime, waiting_for: str) -> bool:
    """Take step `seq` for this transaction; on PostgreSQL a racing worker waits here, then finds 0 rows."""
    claimed = db.session.execute(
        update(Enrollment)
        .where(
            Enrollment.id == enrollment.id,
            Enrollment.step_seq == seq,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Enrollment.waiting_for == waiting_for,
        )
        .values(step_seq=seq + 1, last_step_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


def _prepare(enrollment: Enrollment, graph: flow.Graph, node_id: str):
    """The AI coach's message, composed before the step is claimed so no lock is held meanwhile."""
    node = graph.node(node_id)
    if node["type"] != "ai_coach" or not _deliverable(enrollment):
        return None
    from app.assistant import pipeline

    creator = db.session.get(Creator, enrollment.creator_id)
    user = db.session.get(EndUser, enrollment.end_user_id)
    goal = flow.render(graph.data(node_id).get("goal", ""), variables(enrollment, user, creator))
    conversation = db.session.get(Conversation, enrollment.conversation_id) if enrollment.conversation_id else None
    history = assistant.history(conversation) if conversation is not None else []
    answer = pipeline.compose(creator, persona_for(creator), goal, history, assistant.memories_for(user))
    return None if answer.answer_mode == "fallback" else answer


@dataclass
class Step:
    """What a node's handler works with, inside the claimed transaction."""

    enrollment: Enrollment
    version: ProgramVersion
    graph: flow.Graph
    node_id: str
    now: datetime
    result: StepResult
    prepared: object = None  # the AI coach's answer, composed before the claim
    user: EndUser = None
    creator: Creator = None
    _values: dict | None = None

    @property
    def data(self) -> dict:
        return self.graph.data(self.node_id)

    @property
    def values(self) -> dict:
        """The {variables} of a template, read only by the steps that speak."""
        if self._values is None:
            self._values = variables(self.enrollment, self.user, self.creator)
        return self._values

    def say(self, text: str, **fields) -> None:
        _say(self.enrollment, self.user, text, self.result, **fields)

    def move(self, branch: str | None = None, due_at: datetime | None = None) -> None:
        next_id = self.graph.next(self.node_id, branch)
        if next_id is None:  # the last step: nothing follows it
            _complete(self)
            return
        _move(self.enrollment, self.graph, next_id, self.now, self.result, due_at)


def _execute(enrollment, version, graph, node_id, now, result, prepared) -> tuple[str, str | None]:
    """Do the node's work inside the claimed transaction; returns (outcome, detail) for the log."""
    step = Step(enrollment, version, graph, node_id, now, result, prepared)
    step.user = db.session.get(EndUser, enrollment.end_user_id)
    step.creator = db.session.get(Creator, enrollment.creator_id)
    kind = graph.node(node_id)["type"]
    if _speaks(kind, step.data):
        blocked = _consent_problem(enrollment, step.user)
        if blocked:
            _exit(enrollment, now, blocked)
            return "blocked", blocked
        deferred_to = _quiet_until(enrollment, version, step.user, step.creator, now)
        if deferred_to is not None:
            enrollment.due_at = result.due_at = deferred_to
            return "deferred", f"quiet hours: sent at {deferred_to.isoformat(timespec='minutes')}"
    return HANDLERS[kind](step)


def _start(step: Step):
    step.move()
    return "done", None


def _send_message(step: Step):
    step.say(flow.render(step.data["message"], step.values))
    step.move()
    return "done", None


def _ask_question(step: Step):
    text = _question_text(step.enrollment, step.data, step.values)
    step.say(text, choices=step.data.get("choices"))
    step.enrollment.waiting_for, step.enrollment.due_at = "answer", None
    return "waiting", "waiting for the answer"


def _condition(step: Step):
    branch = "yes" if evaluate(step.data, step.enrollment, step.user) else "no"
    step.move(branch)
    return "done", f"took '{branch}'"


def _ai_coach(step: Step):
    from app.assistant.pipeline import answer_fields

    if step.prepared is not None:
        step.say(step.prepared.content, **answer_fields(step.prepared))
    step.move()
    return ("done", None) if step.prepared is not None else ("skipped", "no knowledge answered this goal")


def _wait(step: Step):
    wake = wake_time(step.data, _zone(step.user, step.creator), step.now)
    step.move(due_at=wake)
    return "done", f"waiting until {wake.isoformat(timespec='minutes')}"


def _award_badge(step: Step):
    detail = _award(step, step.data.get("badge_id"), step.data.get("message"))
    step.move()
    return "done", detail


def _end(step: Step):
    if step.data.get("message"):
        step.say(flow.render(step.data["message"], step.values))
    _complete(step)
    return "done", "completed"


def _complete(step: Step) -> None:
    """The program is done for this user: at an end node, or after a step with no way out."""
    enrollment = step.enrollment
    badge = (step.version.settings or {}).get("completion_badge")
    if badge:
        _award(step, badge, None)
    enrollment.status, enrollment.completed_at, enrollment.progress = EnrollmentStatus.COMPLETED, step.now, 1.0
    enrollment.waiting_for, enrollment.due_at, enrollment.current_node_id = "none", None, step.node_id


HANDLERS = {
    "start": _start,
    "send_message": _send_message,
    "ask_question": _ask_question,
    "condition": _condition,
    "ai_coach": _ai_coach,
    "wait": _wait,
    "award_badge": _award_badge,
    "end": _end,
}


def _speaks(kind: str, data: dict) -> bool:
    """Whether the node sends the user something (consent and quiet hours apply)."""
    return kind in ("send_message", "ask_question", "ai_coach") or (
        kind in ("award_badge", "end") and bool(data.get("message"))
    )


def _move(enrollment, graph, next_id, now, result, due_at=None) -> None:
    """Point the enrollment at the next node; it runs now, after its delay, or at `due_at`."""
    enrollment.current_node_id = next_id
    enrollment.progress = graph.progress(next_id)
    node = graph.node(next_id)
    delay = (node.get("data") or {}).get("delay_hours") if node["type"] == "send_message" else None
    if due_at is None and delay:
        due_at = now + timedelta(hours=float(delay))
    enrollment.due_at = due_at or now
    if due_at is None or due_at <= now:
        result.run_next_now = True
    else:
        result.due_at = due_at


def _exit(enrollment, now, reason: str) -> None:
    enrollment.status, enrollment.exit_reason = EnrollmentStatus.EXITED, reason[:300]
    enrollment.waiting_for, enrollment.due_at = "none", None


# --- Talking to the user --------------------------------------------------------


def _deliverable(enrollment: Enrollment) -> bool:
    return enrollment.status == EnrollmentStatus.ACTIVE


def _consent_problem(enrollment: Enrollment, user: EndUser) -> str | None:
    """On SMS/WhatsApp a program message is one we start: it needs OPT_IN at the moment it goes."""
    if enrollment.channel in TWILIO_TYPES and not may_send(user, proactive=True):
        return f"stopped: the user's consent is {user.consent_state}"
    return None


def _say(enrollment, user, text: str, result: StepResult, choices=None, **fields) -> None:
    """Store the message in the enrollment's conversation; queue its SMS, or push it to the widget."""
    if not text:
        return
    conversation = db.session.get(Conversation, enrollment.conversation_id)
    fields.setdefault("answer_mode", PROGRAM_MODE)
    fields["content"] = text
    message = assistant.add_message(conversation, "ai", **fields)
    message.id = message.id or uuid.uuid4()
    channel = db.session.get(Channel, enrollment.channel_id) if enrollment.channel_id else None
    if enrollment.channel in TWILIO_TYPES and channel is not None:
        result.outbound.append(outbox.queue_message(channel, user, text, "program", conversation, message))
        return
    frame = {
        "type": "message",
        "sender": "ai",
        "text": text,
        "message_id": str(message.id),
        "answer_mode": fields["answer_mode"],
        "sources": fields.get("sources") or [],
        "program_id": str(enrollment.program_id),
        "created_at": message.created_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "done": True,
    }
    if choices:
        frame["choices"] = list(choices)
    result.frames.append((conversation.id, frame))


def _question_text(enrollment: Enrollment, data: dict, values: dict) -> str:
    text = flow.render(data["question"], values)
    choices = data.get("choices") or []
    if choices and enrollment.channel in TWILIO_TYPES:  # no buttons in an SMS: number the choices
        text += "\n" + "\n".join(f"{i}. {choice}" for i, choice in enumerate(choices, 1))
    return text


def after_commit(result: StepResult) -> None:
    """Send what the committed step queued, and push its messages to open widgets."""
    outbox.dispatch(result.outbound)
    for conversation_id, frame in result.frames:
        try:
            publish(conversation_id, frame)
        except Exception:  # the message is stored: the widget shows it with the history on reconnect
            log.warning("could not push a program message", extra={"conversation_id": str(conversation_id)})


def _award(step: Step, badge_id, message: str | None) -> str:
    enrollment, user = step.enrollment, step.user
    try:
        badge = db.session.get(Badge, uuid.UUID(str(badge_id)))
    except ValueError:
        badge = None
    if badge is None or badge.creator_id != enrollment.creator_id:
        return "the badge no longer exists"
    already = db.session.scalar(
        select(UserBadge.id).where(UserBadge.end_user_id == user.id, UserBadge.badge_id == badge.id)
    )
    if already:
        return f"already had {badge.name}"
    db.session.add(
        UserBadge(
            creator_id=enrollment.creator_id,
            end_user_id=user.id,
            badge_id=badge.id,
            program_id=enrollment.program_id,
            enrollment_id=enrollment.id,
        )
    )
    if message:
        step.say(flow.render(message, step.values | {"badge": badge.name}))
    return f"awarded {badge.name}"


# --- What a step knows about the user ----------------------------------------------


def variables(enrollment: Enrollment, user: EndUser, creator: Creator) -> dict:
    profile = user.profile_data or {}
    name = user.display_name or profile.get("name") or ""
    program = db.session.get(Program, enrollment.program_id)
    memories = {m.key: m.value for m in db.session.scalars(select(Memory).where(Memory.end_user_id == user.id))}
    answers = dict(enrollment.answers or {})
    return {
        "first_name": name.split()[0] if name.strip() else "",
        "name": name,
        "program_name": program.name if program else "",
        "creator_name": creator.company_name or creator.full_name,
        "profile": profile,
        "attribute": user.attributes or {},
        "memory": memories,
        "answers": answers,
        "answer": answers,
    }


def evaluate(data: dict, enrollment: Enrollment, user: EndUser) -> bool:
    """Whether a condition node holds for this user now."""
    field_name, operator, expected = data["field"], data["operator"], data.get("value")
    if field_name == "tag":
        tags = {t.lower() for t in db.session.scalars(select(Tag.tag).where(Tag.end_user_id == user.id))}
        return tag_condition(tags, operator, expected)
    scope, _, key = field_name.partition(".")
    if scope == "answer":
        actual = (enrollment.answers or {}).get(key)
    elif scope == "profile":
        actual = (user.profile_data or {}).get(key)
    elif scope == "attribute":
        actual = (user.attributes or {}).get(key)
    else:
        actual = db.session.scalar(select(Memory.value).where(Memory.end_user_id == user.id, Memory.key == key))
    return compare(actual, operator, expected)


def tag_condition(tags: set[str], operator: str, expected) -> bool:
    """exists / not_exists: whether the user has any tag; the others name tags (`in`: any of a list)."""
    if operator in ("exists", "not_exists"):
        return bool(tags) == (operator == "exists")
    wanted = str(expected).strip().lower()
    if operator == "contains":
        return any(wanted in tag for tag in tags)
    names = {part.strip() for part in wanted.split(",")} if operator == "in" else {wanted}
    if operator == "not_equals":
        return not names & tags
    return operator in ("equals", "in") and bool(names & tags)


def compare(actual, operator: str, expected) -> bool:
    if operator == "exists":
        return actual not in (None, "")
    if operator == "not_exists":
        return actual in (None, "")
    if actual is None:
        return operator == "not_equals"
    text, wanted = str(actual).strip().lower(), str(expected).strip().lower()
    if operator == "equals":
        return text == wanted
    if operator == "not_equals":
        return text != wanted
    if operator == "contains":
        return wanted in text
    if operator == "in":
        return text in {part.strip() for part in wanted.split(",")}
    try:
        number, limit = float(actual), float(expected)
    except (TypeError, ValueError):
        return False
    return number > limit if operator == "greater_than" else number < limit


# --- Time ----------------------------------------------------------------------------


def _zone(user: EndUser, creator: Creator) -> ZoneInfo:
    for name in (user.timezone, creator.timezone, "UTC"):
        try:
            if name:
                return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def wake_time(data: dict, zone: ZoneInfo, now: datetime) -> datetime:
    """When a wait node ends: after its hours, or at the next HH:MM (on the weekday) in `zone`."""
    if data.get("hours") is not None:
        return now + timedelta(hours=float(data["hours"]))
    hour, minute = map(int, data["until_time"].split(":"))
    local = now.astimezone(zone)
    wake = datetime.combine(local.date(), time(hour, minute), tzinfo=zone)
    if data.get("weekday"):
        wake += timedelta(days=(flow.WEEKDAYS.index(data["weekday"]) - local.weekday()) % 7)
        if wake <= local:
            wake += timedelta(days=7)
    elif wake <= local:
        wake += timedelta(days=1)
    return wake.astimezone(now.tzinfo)


def _quiet_until(enrollment, version, user, creator, now: datetime) -> datetime | None:
    """The end of the quiet hours when a message to a phone falls inside them, else None."""
    if enrollment.channel not in TWILIO_TYPES:
        return None
    quiet = (version.settings or {}).get("quiet_hours", DEFAULT_QUIET_HOURS)
    if not quiet:
        return None
    zone = _zone(user, creator)
    local = now.astimezone(zone)
    start, end = (time(*map(int, quiet[k].split(":"))) for k in ("start", "end"))
    moment = local.time()
    inside = (start <= moment or moment < end) if start > end else (start <= moment < end)
    if not inside:
        return None
    wake = datetime.combine(local.date(), end, tzinfo=zone)
    if wake <= local:
        wake += timedelta(days=1)
    return wake.astimezone(now.tzinfo)


# --- Answers --------------------------------------------------------------------------


def waiting_enrollment(conversation: Conversation) -> Enrollment | None:
    """The enrollment whose question this conversation's user is answering, if any."""
    return db.session.scalar(
        select(Enrollment)
        .where(
            Enrollment.conversation_id == conversation.id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Enrollment.waiting_for == "answer",
        )
        .order_by(Enrollment.last_step_at.desc())
        .limit(1)
    )


def take_answer(conversation: Conversation, text: str, queue_due_steps: bool = True) -> StepResult | None:
    """If a program's question waits in this conversation, `text` answers it: stored with the user's
    message and the flow moved on, committed. None when no question waits (the AI answers).

    The steps the answer makes due now go to a job, unless `queue_due_steps` is False: then the
    caller runs them itself (`result.run_next_now`), and no worker races it for them. A later step
    is always scheduled.
    """
    enrollment = waiting_enrollment(conversation)
    if enrollment is None:
        return None
    version = db.session.get(ProgramVersion, enrollment.version_id)
    graph = graph_of(version)
    node_id, seq, now = enrollment.current_node_id, enrollment.step_seq, utcnow()
    data = graph.data(node_id)
    user = db.session.get(EndUser, enrollment.end_user_id)
    result = StepResult()
    message = assistant.add_message(conversation, "user", text)
    user.last_active_at = now
    choice = match_choice(text, data.get("choices"))
    if data.get("choices") and choice is None:
        options = ", ".join(data["choices"])
        _say(enrollment, user, f"Please answer with one of: {options}.", result, choices=data["choices"])
        db.session.commit()
        result.frames.insert(0, (conversation.id, _user_frame(message)))
        return result
    if not _claim(enrollment, seq, now, "answer"):
        db.session.commit()  # answered a moment ago by another message: this one is kept as a message
        return StepResult(frames=[(conversation.id, _user_frame(message))])
    db.session.refresh(enrollment)
    answer = choice or text
    enrollment.answers = {**(enrollment.answers or {}), node_id: answer}
    _save_answer(user, data, answer)
    enrollment.waiting_for = "ready"
    step = Step(enrollment, version, graph, node_id, now, result, user=user)
    step.creator = db.session.get(Creator, enrollment.creator_id)
    step.move()
    _log_step(enrollment, seq, node_id, "ask_question", "answered", answer, now)
    db.session.commit()
    if result.due_at or (result.run_next_now and queue_due_steps):
        schedule(enrollment.id, seq + 1, enrollment.due_at)
    return result


def _user_frame(message) -> dict:
    return {"type": "message", "sender": "user", "text": message.content, "message_id": str(message.id)}


def match_choice(text: str, choices: list | None) -> str | None:
    """The choice a reply picks: its number, its text, or the only choice it starts."""
    if not choices:
        return None
    reply = text.strip().rstrip(".!").strip().lower()
    if reply.isdigit() and 1 <= int(reply) <= len(choices):
        return choices[int(reply) - 1]
    for choice in choices:
        if reply == choice.strip().lower():
            return choice
    starting = [c for c in choices if c.strip().lower().startswith(reply)] if reply else []
    return starting[0] if len(starting) == 1 else None


def _save_answer(user: EndUser, data: dict, answer: str) -> None:
    key = data.get("save_as")
    if not key:
        return
    if data.get("save_to") == "memory":
        assistant.remember(user, key, answer, "fact")
    else:
        user.profile_data = {**(user.profile_data or {}), key: answer}


# --- Scheduling --------------------------------------------------------------------


def step_job_id(enrollment_id, seq: int) -> str:
    return f"program-step-{enrollment_id}-{seq}"


def schedule(enrollment_id: uuid.UUID, seq: int, due_at: datetime | None) -> None:
    """The job for step `seq`: now, or at `due_at` through RQ's scheduler."""
    from app.jobs import get_queue
    from app.programs.tasks import run_program_steps

    queue = get_queue("default")
    job_id = step_job_id(enrollment_id, seq)
    if due_at is not None and due_at > utcnow():
        # RQ's scheduled registry keeps whole seconds (it truncates): round up, or a step due at
        # 12:00:00.7 is released at 12:00:00, finds itself not due, and waits for the sweep.
        release_at = due_at.replace(microsecond=0) + timedelta(seconds=1) if due_at.microsecond else due_at
        queue.enqueue_at(release_at, run_program_steps, str(enrollment_id), seq, job_id=job_id)
    else:
        queue.enqueue(run_program_steps, str(enrollment_id), seq, job_id=job_id)


def identity_for(user: EndUser, channel: str) -> str | None:
    """The user's address on `channel` (a linked person has several)."""
    if user.channel == channel:
        return user.external_id
    return db.session.scalar(
        select(EndUserIdentity.external_id).where(
            EndUserIdentity.end_user_id == user.id, EndUserIdentity.channel == channel
        )
    )
