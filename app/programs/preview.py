"""A dry run of a draft flow as a test user: what they would be sent, in order.

Nothing is stored or sent. The walk follows the engine's rules (engine.compare,
engine.match_choice, engine.wake_time, flow.render) on a test user held in memory,
takes the given answers in order, and stops at the first question left unanswered.
An AI coach step shows its goal instead of calling the model.
"""

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.extensions import db
from app.models import Creator, Program
from app.models.base import utcnow
from app.programs import engine, flow, services

MAX_STEPS = 200  # a loop through a wait or an unanswered-choice re-ask ends the preview here


@dataclass
class Line:
    kind: str  # message, question, answer, reprompt, branch, wait, coach, badge, end, note
    text: str
    node_id: str | None = None
    choices: list[str] = field(default_factory=list)


@dataclass
class Transcript:
    lines: list[Line] = field(default_factory=list)
    problems: list[flow.Problem] = field(default_factory=list)  # why the flow cannot be previewed
    finished: bool = False  # reached an end
    waiting_on: str | None = None  # the question left unanswered
    unused_answers: list[str] = field(default_factory=list)

    def add(self, kind: str, text: str, node_id: str | None = None, choices=None) -> None:
        self.lines.append(Line(kind, text, node_id, list(choices or [])))


@dataclass
class TestUser:
    """The user the preview runs as: a name, profile fields (attribute.x and memory.x keys go
    to those), tags, and what they have answered so far."""

    name: str = ""
    profile: dict = field(default_factory=dict)
    attribute: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    answers: dict = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, fields: dict, tags: list[str]) -> "TestUser":
        user = cls(name=name, tags=list(tags))
        for key, value in fields.items():
            scope, _, rest = key.partition(".")
            if rest and scope in ("attribute", "memory", "profile"):
                getattr(user, scope)[rest] = value
            else:
                user.profile[key] = value
        return user


def run(program: Program, test_user: TestUser, answers: list[str]) -> Transcript:
    """Walk the program's DRAFT flow as `test_user` answering `answers` in order."""
    report = services.check_flow(program.creator_id, program.flow_definition)
    if not report.valid:
        return Transcript(problems=report.errors)
    creator = db.session.get(Creator, program.creator_id)
    badges = {str(b.id): b for b in services.badges(program.creator_id)}
    walk = _Walk(flow.Graph(program.flow_definition), test_user, deque(answers), badges, _zone(creator))
    walk.values_base = {
        "program_name": program.name,
        "creator_name": creator.company_name or creator.full_name,
    }
    walk.completion_badge = (program.settings or {}).get("completion_badge")
    return walk.go()


def _zone(creator: Creator) -> ZoneInfo:
    try:
        return ZoneInfo(creator.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class _Walk:
    def __init__(self, graph: flow.Graph, user: TestUser, answers: deque, badges: dict, zone: ZoneInfo):
        self.graph, self.user, self.answers, self.badges, self.zone = graph, user, answers, badges, zone
        self.now: datetime = utcnow()
        self.out = Transcript()
        self.awarded: set[str] = set()
        self.values_base: dict = {}
        self.completion_badge: str | None = None

    def go(self) -> Transcript:
        node_id = self.graph.start
        for _ in range(MAX_STEPS):
            node = self.graph.node(node_id)
            branch = getattr(self, f"_{node['type']}")(node_id, self.graph.data(node_id))
            if self.out.finished or self.out.waiting_on:
                break
            next_id = self.graph.next(node_id, branch)
            if next_id is None:  # the last step: the program is complete after it
                self.complete(node_id)
                break
            node_id = next_id
        else:
            self.out.add("note", f"The preview stops after {MAX_STEPS} steps: this flow goes round a loop.")
        self.out.unused_answers = list(self.answers)
        return self.out

    def values(self, **extra) -> dict:
        name = self.user.name
        return (
            self.values_base
            | {
                "first_name": name.split()[0] if name.strip() else "",
                "name": name,
                "profile": self.user.profile,
                "attribute": self.user.attribute,
                "memory": self.user.memory,
                "answers": self.user.answers,
                "answer": self.user.answers,
            }
            | extra
        )

    def say(self, kind: str, template: str, node_id: str, **extra) -> None:
        text = flow.render(template, self.values(**extra))
        if text:
            self.out.add(kind, text, node_id)

    def wait(self, wake: datetime, node_id: str, hours=None) -> None:
        if hours is not None:
            self.out.add("wait", f"waits {_hours(hours)} h", node_id)
        else:
            self.out.add("wait", f"waits until {wake.astimezone(self.zone):%A %H:%M} ({self.zone.key})", node_id)
        self.now = wake

    # One method per node type; each returns the branch to leave by (None: the only way out).

    def _start(self, node_id, data):
        return None

    def _send_message(self, node_id, data):
        if data.get("delay_hours"):
            self.wait(
                engine.wake_time({"hours": data["delay_hours"]}, self.zone, self.now), node_id, data["delay_hours"]
            )
        self.say("message", data["message"], node_id)

    def _ask_question(self, node_id, data):
        choices = data.get("choices") or []
        self.out.add("question", flow.render(data["question"], self.values()), node_id, choices)
        while True:
            if not self.answers:
                self.out.waiting_on = node_id
                self.out.add("note", "Waits for the answer: add one to the answers to go on.", node_id)
                return None
            reply = self.answers.popleft()
            self.out.add("answer", reply, node_id)
            choice = engine.match_choice(reply, choices)
            if choices and choice is None:
                self.out.add("reprompt", f"Please answer with one of: {', '.join(choices)}.", node_id, choices)
                continue
            answer = choice or reply
            self.user.answers[node_id] = answer
            if data.get("save_as"):
                scope = self.user.memory if data.get("save_to") == "memory" else self.user.profile
                scope[data["save_as"]] = answer
            return None

    def _condition(self, node_id, data):
        branch = "yes" if self._holds(data) else "no"
        test = " ".join(str(p) for p in (data["field"], data["operator"].replace("_", " "), data.get("value")) if p)
        self.out.add("branch", f"{test}? → took “{branch}”", node_id)
        return branch

    def _holds(self, data) -> bool:
        """engine.evaluate on the test user instead of the database."""
        field_name, operator, expected = data["field"], data["operator"], data.get("value")
        if field_name == "tag":
            return engine.tag_condition({t.lower() for t in self.user.tags}, operator, expected)
        scope, _, key = field_name.partition(".")
        source = {"answer": self.user.answers, "profile": self.user.profile, "attribute": self.user.attribute}
        actual = source.get(scope, self.user.memory).get(key)
        return engine.compare(actual, operator, expected)

    def _ai_coach(self, node_id, data):
        self.out.add("coach", f"(AI coach message about: {flow.render(data['goal'], self.values())})", node_id)

    def _wait(self, node_id, data):
        self.wait(engine.wake_time(data, self.zone, self.now), node_id, data.get("hours"))

    def _award_badge(self, node_id, data):
        self.award(data.get("badge_id"), data.get("message"), node_id)

    def _end(self, node_id, data):
        if data.get("message"):
            self.say("message", data["message"], node_id)
        self.complete(node_id)

    def complete(self, node_id) -> None:
        if self.completion_badge:
            self.award(self.completion_badge, None, node_id)
        self.out.add("end", "End: the program is complete.", node_id)
        self.out.finished = True

    def award(self, badge_id, message, node_id) -> None:
        badge = self.badges.get(str(badge_id))
        if badge is None:
            self.out.add("badge", "The badge no longer exists: nothing is awarded.", node_id)
            return
        if badge.name in self.awarded:
            self.out.add("badge", f"Already has {badge.icon} {badge.name}.", node_id)
            return
        self.awarded.add(badge.name)
        self.out.add("badge", f"Badge awarded: {badge.icon} {badge.name}", node_id)
        if message:
            self.say("message", message, node_id, badge=badge.name)


def _hours(hours) -> str:
    return str(int(hours)) if float(hours).is_integer() else f"{float(hours):g}"
