"""Programs: drafts, publishing and archiving, settings, badges, enrollment, analytics.

The draft (`Program.flow_definition`) is what the builder and `PUT` edit. Publishing
validates it and freezes a copy as the next ProgramVersion; new enrollments run on
the latest version, running ones stay on theirs. A published version is never
changed: editing a published program edits its draft, which the next publish
turns into a new version.
"""

import copy
import re
import uuid
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from app.api.errors import ApiError
from app.assistant import services as assistant
from app.audience.consent import keyword_kind, may_send
from app.extensions import db
from app.messaging import outbox
from app.messaging.channels import TWILIO_TYPES, missing_sender_reason
from app.models import (
    Badge,
    Channel,
    Conversation,
    EndUser,
    Enrollment,
    EnrollmentStatus,
    EnrollmentStep,
    Memory,
    Program,
    ProgramStatus,
    ProgramVersion,
    UserBadge,
)
from app.models.base import utcnow
from app.programs import engine, flow
from app.tenancy import get_for_creator

ENROLL_VIA = ("dashboard", "api", "widget", "keyword", "auto")
KEYWORD_PATTERN = re.compile(r"^[A-Za-z0-9]{2,20}$")
TIME_OF_DAY = flow.TIME_PATTERN


def _invalid(field: str, message: str, status: int = 422) -> ApiError:
    return ApiError(status, message, details=[{"field": field, "message": message}])


# --- Programs ------------------------------------------------------------------------


def get_program(creator_id: uuid.UUID, program_id: uuid.UUID) -> Program:
    return get_for_creator(Program, creator_id, program_id, "Program")


def programs_query(creator_id: uuid.UUID, status: str | None = None, search: str | None = None):
    query = select(Program).where(Program.creator_id == creator_id)
    if status:
        query = query.where(Program.status == status)
    if search:
        pattern = f"%{search.strip()}%"
        query = query.where(or_(Program.name.ilike(pattern), Program.description.ilike(pattern)))
    return query.order_by(Program.updated_at.desc(), Program.id)


def check_flow(creator_id: uuid.UUID, definition) -> flow.Report:
    """Validate against this creator's badges and the variables their users have."""
    return flow.validate(definition, known_badges=badge_ids(creator_id), known_variables=known_variables(creator_id))


def _require_valid(report: flow.Report) -> None:
    if not report.valid:
        raise ApiError(
            422, "The flow is not valid: see the problem on each node.", details=[p.as_dict() for p in report.errors]
        )


def create_program(creator_id: uuid.UUID, data: dict) -> tuple[Program, flow.Report]:
    definition = data.get("flow_definition") or flow.empty_flow()
    report = check_flow(creator_id, definition)
    _require_valid(report)
    program = Program(
        creator_id=creator_id,
        name=data["name"].strip(),
        description=(data.get("description") or "").strip() or None,
        status=ProgramStatus.DRAFT,
        flow_definition=definition,
        settings=clean_settings(creator_id, data.get("settings") or {}),
        version=0,
        has_unpublished_changes=True,
    )
    db.session.add(program)
    db.session.commit()
    return program, report


def update_program(program: Program, data: dict, validate: bool = True) -> flow.Report:
    """Change the draft (never a published version). The API validates every change; the builder
    saves work in progress and shows its problems instead (`validate=False`)."""
    if program.status == ProgramStatus.ARCHIVED:
        raise ApiError(409, "This program is archived. Restore it before editing.")
    report = None
    if "flow_definition" in data and data["flow_definition"] is not None:
        report = check_flow(program.creator_id, data["flow_definition"])
        if validate:
            _require_valid(report)
        program.flow_definition = copy.deepcopy(data["flow_definition"])
        program.has_unpublished_changes = True
    if data.get("name") is not None:
        program.name = data["name"].strip()
    if "description" in data:
        program.description = (data.get("description") or "").strip() or None
    if data.get("settings") is not None:
        program.settings = clean_settings(program.creator_id, data["settings"], program)
        program.has_unpublished_changes = True
    program.updated_at = utcnow()
    db.session.commit()
    return report or check_flow(program.creator_id, program.flow_definition)


def publish(program: Program, member_id: uuid.UUID | None = None) -> ProgramVersion:
    """Freeze the draft as the next version; new enrollments run on it."""
    if program.status == ProgramStatus.ARCHIVED:
        raise ApiError(409, "This program is archived. Restore it before publishing.")
    _require_valid(check_flow(program.creator_id, program.flow_definition))
    db.session.refresh(program, with_for_update=True)  # two publishes at once make two numbers, not one twice
    version = ProgramVersion(
        creator_id=program.creator_id,
        program_id=program.id,
        number=program.version + 1,
        flow_definition=copy.deepcopy(program.flow_definition),
        settings=copy.deepcopy(program.settings or {}),
        published_by=member_id,
    )
    db.session.add(version)
    db.session.flush()
    program.version, program.current_version_id = version.number, version.id
    program.status, program.published_at, program.has_unpublished_changes = (
        ProgramStatus.PUBLISHED,
        version.published_at,
        False,
    )
    db.session.commit()
    return version


def archive(program: Program) -> Program:
    """No new enrollments; running ones finish on their version."""
    if program.status == ProgramStatus.ARCHIVED:
        return program
    program.status, program.archived_at = ProgramStatus.ARCHIVED, utcnow()
    db.session.commit()
    return program


def restore(program: Program) -> Program:
    if program.status == ProgramStatus.ARCHIVED:
        program.status = ProgramStatus.PUBLISHED if program.current_version_id else ProgramStatus.DRAFT
        program.archived_at = None
        db.session.commit()
    return program


def versions(program: Program) -> list[ProgramVersion]:
    return list(
        db.session.scalars(
            select(ProgramVersion).where(ProgramVersion.program_id == program.id).order_by(ProgramVersion.number.desc())
        )
    )


def get_version(program: Program, number: int) -> ProgramVersion:
    version = db.session.scalar(
        select(ProgramVersion).where(ProgramVersion.program_id == program.id, ProgramVersion.number == number)
    )
    if version is None:
        raise ApiError(404, "Program version not found.")
    return version


def delete_program(program: Program) -> None:
    if program.current_version_id is not None:
        raise ApiError(409, "A published program keeps its history: archive it instead.")
    db.session.delete(program)
    db.session.commit()


# --- Settings -------------------------------------------------------------------------


def clean_settings(creator_id: uuid.UUID, settings, program: Program | None = None) -> dict:
    """The program settings we know, checked: auto_enroll, widget_enroll, enroll_keyword,
    completion_badge, quiet_hours ({start, end} or null to send at any hour)."""
    if not isinstance(settings, dict):
        raise _invalid("settings", "Settings are an object.")
    clean = {
        "auto_enroll": bool(settings.get("auto_enroll", False)),
        "widget_enroll": bool(settings.get("widget_enroll", False)),
        "enroll_keyword": None,
        "completion_badge": None,
        "quiet_hours": engine.DEFAULT_QUIET_HOURS,
    }
    keyword = (settings.get("enroll_keyword") or "").strip()
    if keyword:
        if not KEYWORD_PATTERN.match(keyword):
            raise _invalid("settings.enroll_keyword", "A keyword is 2 to 20 letters or digits, like RUN10K.")
        if keyword_kind(keyword) != "message":
            raise _invalid(
                "settings.enroll_keyword", f"{keyword.upper()} is reserved for consent (STOP, START, HELP…)."
            )
        taken = db.session.scalar(
            select(Program.name).where(
                Program.creator_id == creator_id,
                Program.id != (program.id if program else None),
                Program.status != ProgramStatus.ARCHIVED,
                func.upper(Program.settings["enroll_keyword"].as_string()) == keyword.upper(),
            )
        )
        if taken:
            raise _invalid("settings.enroll_keyword", f"{keyword.upper()} already enrolls in “{taken}”.")
        clean["enroll_keyword"] = keyword.upper()
    badge = settings.get("completion_badge")
    if badge:
        if str(badge) not in badge_ids(creator_id):
            raise _invalid("settings.completion_badge", "Choose one of your badges.")
        clean["completion_badge"] = str(badge)
    if "quiet_hours" in settings:
        quiet = settings["quiet_hours"]
        if quiet is None:
            clean["quiet_hours"] = None
        elif not (
            isinstance(quiet, dict)
            and all(isinstance(quiet.get(k), str) and TIME_OF_DAY.match(quiet[k]) for k in ("start", "end"))
            and quiet["start"] != quiet["end"]
        ):
            raise _invalid("settings.quiet_hours", 'Quiet hours are {"start": "21:00", "end": "08:00"}, or null.')
        else:
            clean["quiet_hours"] = {"start": quiet["start"], "end": quiet["end"]}
    return clean


# --- Badges ----------------------------------------------------------------------------


def badge_ids(creator_id: uuid.UUID) -> set[str]:
    return {str(i) for i in db.session.scalars(select(Badge.id).where(Badge.creator_id == creator_id))}


def badges_query(creator_id: uuid.UUID):
    return select(Badge).where(Badge.creator_id == creator_id).order_by(Badge.name, Badge.id)


def badges(creator_id: uuid.UUID) -> list[Badge]:
    return list(db.session.scalars(badges_query(creator_id)))


def create_badge(creator_id: uuid.UUID, name: str, description: str | None = None, icon: str | None = None) -> Badge:
    badge = Badge(creator_id=creator_id, name=name.strip(), description=(description or "").strip() or None)
    badge.icon = (icon or "").strip() or "🏅"
    db.session.add(badge)
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise _invalid("name", f"You already have a badge called {name.strip()!r}.", 409) from error
    return badge


def get_badge(creator_id: uuid.UUID, badge_id: uuid.UUID) -> Badge:
    return get_for_creator(Badge, creator_id, badge_id, "Badge")


def _programs_awarding(badge: Badge) -> list[str]:
    """Names of the programs whose draft, live version or completion badge awards `badge`."""
    wanted, names = str(badge.id), []
    for program in db.session.scalars(select(Program).where(Program.creator_id == badge.creator_id)):
        version = db.session.get(ProgramVersion, program.current_version_id) if program.current_version_id else None
        pairs = [(program.flow_definition, program.settings)]
        pairs += [(version.flow_definition, version.settings)] if version else []
        for definition, settings in pairs:
            nodes = (definition or {}).get("nodes") or []
            awarded = {str((n.get("data") or {}).get("badge_id")) for n in nodes if isinstance(n, dict)}
            if wanted in awarded or (settings or {}).get("completion_badge") == wanted:
                names.append(program.name)
                break
    return names


def delete_badge(badge: Badge) -> None:
    """Delete a badge no program awards (409 naming those that do); users who earned it lose it."""
    using = _programs_awarding(badge)
    if using:
        names = ", ".join(f"“{name}”" for name in using)
        raise ApiError(409, f"{names} award{'s' if len(using) == 1 else ''} this badge: remove it from them first.")
    db.session.delete(badge)
    db.session.commit()


def badges_of(user: EndUser) -> list[dict]:
    rows = db.session.execute(
        select(UserBadge, Badge)
        .join(Badge, Badge.id == UserBadge.badge_id)
        .where(UserBadge.end_user_id == user.id)
        .order_by(UserBadge.earned_at)
    )
    return [
        {
            "badge_id": badge.id,
            "badge_name": badge.name,
            "icon": badge.icon,
            "program_id": earned.program_id,
            "earned_at": earned.earned_at,
        }
        for earned, badge in rows
    ]


def known_variables(creator_id: uuid.UUID, sample: int = 500) -> set[str]:
    """Keys some recent user has in their profile, attributes or memories: a template's variable
    outside these is one no user has (a warning in the builder)."""
    keys: set[str] = set()
    rows = db.session.execute(
        select(EndUser.id, EndUser.profile_data, EndUser.attributes)
        .where(EndUser.creator_id == creator_id)
        .order_by(EndUser.updated_at.desc())  # ix_end_users_creator_updated: no scan of every user
        .limit(sample)
    ).all()
    for _, profile, attributes in rows:
        keys.update((profile or {}).keys())
        keys.update((attributes or {}).keys())
    recent = [user_id for user_id, _, _ in rows]
    keys.update(db.session.scalars(select(Memory.key).where(Memory.end_user_id.in_(recent)).distinct()))
    return keys


# --- Enrollment ------------------------------------------------------------------------


def enroll(
    user: EndUser, program: Program, via: str, channel_type: str | None = None, commit_and_start: bool = True
) -> Enrollment:
    """Enroll `user` in the program's latest version, reached on `channel_type` (default: their own channel).

    409 when they are already in it; 422 when the program is not published, or the channel
    cannot reach them, or they have not opted in to messages on SMS/WhatsApp.
    """
    if user.creator_id != program.creator_id:
        raise ApiError(404, "User not found.")
    if program.status != ProgramStatus.PUBLISHED or program.current_version_id is None:
        what = "archived" if program.status == ProgramStatus.ARCHIVED else "not published yet"
        raise _invalid("program_id", f"“{program.name}” is {what}: nobody can enroll in it.")
    channel_type = channel_type or ("web" if user.channel == "web" else user.channel)
    channel, conversation = _reach(user, channel_type)
    if channel_type in TWILIO_TYPES and not may_send(user, proactive=True) and via not in ("keyword", "widget"):
        raise _invalid(
            "user_id",
            f"{user.label} has not opted in to messages (consent is {user.consent_state}): a program cannot text them. "
            "They can text the program's keyword, or START after a STOP.",
        )
    active = db.session.scalar(
        select(Enrollment.id).where(
            Enrollment.program_id == program.id,
            Enrollment.end_user_id == user.id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    )
    if active:
        raise ApiError(409, f"{user.label} is already enrolled in “{program.name}”.")
    version = db.session.get(ProgramVersion, program.current_version_id)
    graph = engine.graph_of(version)
    now = utcnow()
    enrollment = Enrollment(
        id=uuid.uuid4(),
        creator_id=program.creator_id,
        program_id=program.id,
        version_id=version.id,
        end_user_id=user.id,
        conversation_id=conversation.id,
        channel=channel_type,
        channel_id=channel.id if channel is not None else None,
        enrolled_via=via,
        status=EnrollmentStatus.ACTIVE,
        current_node_id=graph.start,
        waiting_for="ready",
        due_at=now,
        step_seq=0,
        answers={},
        progress=0.0,
        enrolled_at=now,
    )
    db.session.add(enrollment)
    if not commit_and_start:
        return enrollment
    try:
        db.session.commit()
    except IntegrityError as error:  # a concurrent enrollment won the unique index
        db.session.rollback()
        raise ApiError(409, f"{user.label} is already enrolled in “{program.name}”.") from error
    engine.schedule(enrollment.id, 0, None)
    return enrollment


def _reach(user: EndUser, channel_type: str) -> tuple[Channel | None, Conversation]:
    """The channel and conversation a program's messages to `user` go through."""
    if channel_type == "web":
        visitor = engine.identity_for(user, "web")
        if visitor is None:
            raise _invalid("channel", f"{user.label} has never used the website widget.")
        return None, assistant.get_or_create_conversation(user, visitor)
    if channel_type in TWILIO_TYPES:
        if not user.phone_e164 and engine.identity_for(user, channel_type) is None:
            raise _invalid("channel", f"{user.label} has no phone number.")
        channel = _twilio_channel(user, channel_type)
        if channel is None:
            raise _invalid("channel", missing_sender_reason(user.creator_id, channel_type))
        return channel, assistant.get_or_create_conversation(user, outbox.session_id_for(channel))
    if channel_type == "api":
        return None, assistant.get_or_create_conversation(user, "programs")
    raise _invalid("channel", "Reach users on web, sms, whatsapp or api.")


def _twilio_channel(user: EndUser, channel_type: str) -> Channel | None:
    """The number the user last wrote to, else the creator's first active channel of that type."""
    last = db.session.scalar(
        select(Conversation.session_id)
        .where(
            Conversation.end_user_id == user.id,
            Conversation.channel == channel_type,
            Conversation.session_id.startswith(outbox.SESSION_PREFIX),
        )
        .order_by(Conversation.last_message_at.desc())
        .limit(1)
    )
    if last:
        channel = db.session.get(Channel, uuid.UUID(last.removeprefix(outbox.SESSION_PREFIX)))
        if channel is not None and channel.status == "active":
            return channel
    return db.session.scalar(
        select(Channel)
        .where(Channel.creator_id == user.creator_id, Channel.channel_type == channel_type, Channel.status == "active")
        .order_by(Channel.created_at)
        .limit(1)
    )


def active_enrollment(user: EndUser, program: Program) -> Enrollment:
    """The user's running enrollment in the program; 404 when they are not in it."""
    enrollment = db.session.scalar(
        select(Enrollment).where(
            Enrollment.program_id == program.id,
            Enrollment.end_user_id == user.id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    )
    if enrollment is None:
        raise ApiError(404, f"{user.label} is not enrolled in “{program.name}”.")
    return enrollment


def unenroll(enrollment: Enrollment, reason: str = "unenrolled by the creator") -> Enrollment:
    if enrollment.status == EnrollmentStatus.ACTIVE:
        enrollment.status, enrollment.exit_reason = EnrollmentStatus.EXITED, reason
        enrollment.waiting_for, enrollment.due_at = "none", None
        db.session.commit()
    return enrollment


def get_enrollment(creator_id: uuid.UUID, enrollment_id: uuid.UUID) -> Enrollment:
    return get_for_creator(Enrollment, creator_id, enrollment_id, "Enrollment")


def enrollments_query(program: Program, status: str | None = None):
    query = select(Enrollment).where(Enrollment.program_id == program.id)
    if status:
        query = query.where(Enrollment.status == status)
    return query.order_by(Enrollment.enrolled_at.desc(), Enrollment.id)


def enrollments_of(user: EndUser) -> list[dict]:
    rows = db.session.execute(
        select(Enrollment, Program.name)
        .join(Program, Program.id == Enrollment.program_id)
        .where(Enrollment.end_user_id == user.id)
        .order_by(Enrollment.enrolled_at.desc())
    )
    return [
        {
            "enrollment_id": enrollment.id,
            "program_id": enrollment.program_id,
            "program_name": name,
            "status": enrollment.status,
            "progress": enrollment.progress,
            "current_node_id": enrollment.current_node_id,
            "channel": enrollment.channel,
            "enrolled_at": enrollment.enrolled_at,
            "completed_at": enrollment.completed_at,
        }
        for enrollment, name in rows
    ]


def active_enrollment_counts(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    counts = dict.fromkeys(user_ids, 0)
    if user_ids:
        rows = db.session.execute(
            select(Enrollment.end_user_id, func.count(Enrollment.id))
            .where(Enrollment.end_user_id.in_(user_ids), Enrollment.status == EnrollmentStatus.ACTIVE)
            .group_by(Enrollment.end_user_id)
        )
        counts.update(dict(rows.all()))
    return counts


def widget_programs(creator_id: uuid.UUID) -> list[Program]:
    """Published programs a widget visitor may start themselves."""
    return [
        p
        for p in db.session.scalars(
            select(Program)
            .where(Program.creator_id == creator_id, Program.status == ProgramStatus.PUBLISHED)
            .order_by(Program.name)
        )
        if (p.settings or {}).get("widget_enroll")
    ]


def program_for_keyword(creator_id: uuid.UUID, body: str) -> Program | None:
    """The published program whose enroll keyword is the whole message (trailing .! ignored)."""
    word = body.strip().rstrip(".!").strip().upper()
    if not KEYWORD_PATTERN.match(word):
        return None
    return db.session.scalar(
        select(Program).where(
            Program.creator_id == creator_id,
            Program.status == ProgramStatus.PUBLISHED,
            func.upper(Program.settings["enroll_keyword"].as_string()) == word,
        )
    )


def auto_enroll(user: EndUser) -> list[Enrollment]:
    """Enroll a new user in every published program with auto_enroll that can reach them."""
    enrolled = []
    for program in db.session.scalars(
        select(Program).where(Program.creator_id == user.creator_id, Program.status == ProgramStatus.PUBLISHED)
    ):
        if not (program.settings or {}).get("auto_enroll"):
            continue
        try:
            enrolled.append(enroll(user, program, "auto"))
        except ApiError:
            db.session.rollback()  # this one cannot reach them (no opt-in on SMS): the others still may
    return enrolled


# --- Analytics ---------------------------------------------------------------------------


def counts(program_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict]:
    """Enrollment count and completion rate of each program, in one query (the list)."""
    out = {pid: {"enrollment_count": 0, "completion_rate": 0.0} for pid in program_ids}
    if program_ids:
        completed = func.count(Enrollment.id).filter(Enrollment.status == EnrollmentStatus.COMPLETED)
        rows = db.session.execute(
            select(Enrollment.program_id, func.count(Enrollment.id), completed)
            .where(Enrollment.program_id.in_(program_ids))
            .group_by(Enrollment.program_id)
        )
        for program_id, total, done in rows:
            out[program_id] = {"enrollment_count": total, "completion_rate": round(done / total, 3)}
    return out


def analytics(program: Program) -> dict:
    """Enrollments, active, completed, completion rate, average completion time, engagement."""
    by_status = dict(
        db.session.execute(
            select(Enrollment.status, func.count(Enrollment.id))
            .where(Enrollment.program_id == program.id)
            .group_by(Enrollment.status)
        ).all()
    )
    total = sum(by_status.values())
    completed = by_status.get(EnrollmentStatus.COMPLETED, 0)
    durations = [
        (done - started).total_seconds()
        for started, done in db.session.execute(
            select(Enrollment.enrolled_at, Enrollment.completed_at).where(
                Enrollment.program_id == program.id, Enrollment.completed_at.is_not(None)
            )
        )
    ]
    asked = _count_steps(program, "ask_question", ("waiting",))
    answered = _count_steps(program, "ask_question", ("answered",))
    return {
        "total_enrollments": total,
        "active_enrollments": by_status.get(EnrollmentStatus.ACTIVE, 0),
        "completed_enrollments": completed,
        "exited_enrollments": by_status.get(EnrollmentStatus.EXITED, 0),
        "completion_rate": round(completed / total, 3) if total else 0.0,
        "average_completion_time_days": round(sum(durations) / len(durations) / 86400, 2) if durations else None,
        # The share of the program's questions that got an answer.
        "engagement_score": round(answered / asked, 3) if asked else None,
    }


def _count_steps(program: Program, node_type: str, outcomes: tuple) -> int:
    return db.session.scalar(
        select(func.count(EnrollmentStep.id)).where(
            EnrollmentStep.program_id == program.id,
            EnrollmentStep.node_type == node_type,
            EnrollmentStep.outcome.in_(outcomes),
        )
    )


STALLED_AFTER = timedelta(days=3)


def drop_off(program: Program) -> list[dict]:
    """Per node of the latest version: how many enrollments reached it, are at it now, and stopped
    there (exited, or waiting on it for more than STALLED_AFTER); in flow order."""
    version = db.session.get(ProgramVersion, program.current_version_id) if program.current_version_id else None
    if version is None:
        return []
    graph = engine.graph_of(version)
    reached = dict(
        db.session.execute(
            select(EnrollmentStep.node_id, func.count(func.distinct(EnrollmentStep.enrollment_id)))
            .where(EnrollmentStep.program_id == program.id)
            .group_by(EnrollmentStep.node_id)
        ).all()
    )
    here: dict[str, int] = {}
    stopped: dict[str, int] = {}
    stale = utcnow() - STALLED_AFTER
    for node_id, status, last_step in db.session.execute(
        select(Enrollment.current_node_id, Enrollment.status, Enrollment.last_step_at).where(
            Enrollment.program_id == program.id, Enrollment.status != EnrollmentStatus.COMPLETED
        )
    ):
        if status == EnrollmentStatus.ACTIVE:
            here[node_id] = here.get(node_id, 0) + 1
        if status == EnrollmentStatus.EXITED or (last_step is not None and last_step < stale):
            stopped[node_id] = stopped.get(node_id, 0) + 1
    return [
        {
            "node_id": node_id,
            "type": graph.node(node_id)["type"],
            "label": node_label(graph.node(node_id)),
            "reached": reached.get(node_id, 0),
            "current": here.get(node_id, 0),
            "dropped": stopped.get(node_id, 0),
        }
        for node_id in graph.ordered()
    ]


NODE_TITLES = {
    "start": "Start",
    "send_message": "Message",
    "ask_question": "Question",
    "condition": "Condition",
    "ai_coach": "AI coach",
    "wait": "Wait",
    "award_badge": "Badge",
    "end": "End",
}


def node_label(node: dict) -> str:
    """A short human name for a node: its type and the start of its text."""
    data = node.get("data") or {}
    text = data.get("message") or data.get("question") or data.get("goal") or ""
    if node.get("type") == "condition":
        text = f"{data.get('field', '')} {data.get('operator', '')} {data.get('value', '')}".strip()
    elif node.get("type") == "wait":
        text = (
            f"{data['hours']} h"
            if data.get("hours")
            else f"until {data.get('weekday') or ''} {data.get('until_time') or ''}"
        )
    title = NODE_TITLES.get(node.get("type"), node.get("type", "?"))
    text = " ".join(str(text).split())
    return f"{title}: {text[:40]}{'…' if len(text) > 40 else ''}" if text else title
