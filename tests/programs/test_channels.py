"""Programs on the channels: visitors start programs from the widget and answer with its
buttons, texters join by keyword and answer by number, chat API answers move the flow on,
and new users land in auto_enroll programs. Answers never reach the AI."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.assistant import services as assistant
from app.extensions import db
from app.models import ConsentEvent, EndUser, Enrollment, EnrollmentStep, Message, OutboundMessage, Program
from app.models.base import utcnow
from app.programs import engine
from app.programs import services as programs
from tests.messaging import conftest as messaging
from tests.messaging.conftest import inbound_params, signed_post
from tests.widget.conftest import Visitor, connect, create_channel

twilio, make_twilio_channel = messaging.twilio, messaging.make_twilio_channel  # the fake Twilio's fixtures

WELCOME = "Welcome friend to Couch to 5k!"
QUESTION = "Ready to run today?"
CHOICES = ["Yes", "Not yet"]


@pytest.fixture(autouse=True)
def close_visitors():
    """Every widget socket a test opens is closed, pass or fail (an open one keeps the process alive)."""
    yield
    while Visitor.opened:
        Visitor.opened.pop().close()


def run_until_some(run_jobs, timeout=10.0) -> int:
    """Run queued jobs until at least one ran: the socket's handler enqueues them a moment after a frame."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ran = run_jobs()
        if ran:
            return ran
        time.sleep(0.05)
    raise AssertionError("no job was queued")


def message_frame(visitor, text):
    return visitor.until(lambda f: f["type"] == "message" and f.get("text") == text)


def frames_until_pong(visitor) -> list[dict]:
    visitor.send(type="ping")
    frames = []
    while not frames or frames[-1]["type"] != "pong":
        frames.append(visitor.receive(timeout=5))
    return frames


def read(app, query):
    with app.app_context():
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return rows


def enrollment_of(app, program_id) -> Enrollment:
    [enrollment] = read(app, select(Enrollment).where(Enrollment.program_id == program_id))
    return enrollment


# --- The widget -----------------------------------------------------------------------------


def test_visitor_starts_a_program_and_answers_with_a_button(
    app, client, live_server_url, creator, published_program, run_jobs
):
    program_id, _ = published_program(creator, settings={"widget_enroll": True})
    channel = create_channel(client, creator)
    visitor, hello, credential = connect(client, live_server_url, channel)
    assert hello["programs"] == [{"id": str(program_id), "name": "Couch to 5k", "description": ""}]

    visitor.send(type="start_program", program_id=str(program_id))
    started = visitor.until(lambda f: f["type"] == "program_started")
    assert started["program_id"] == str(program_id) and started["name"] == "Couch to 5k"
    run_jobs()
    welcome = message_frame(visitor, WELCOME)
    assert (welcome["sender"], welcome["answer_mode"], welcome["program_id"]) == ("ai", "program", str(program_id))
    question = message_frame(visitor, QUESTION)
    assert question["choices"] == CHOICES

    visitor.send(type="start_program", program_id=str(program_id))
    refused = visitor.until(lambda f: f["type"] == "error")
    assert refused["code"] == "ALREADY_ENROLLED" and "already enrolled" in refused["message"]

    # After a reload, the waiting question offers its choices again.
    reloaded, again, _ = connect(client, live_server_url, channel, credential=credential)
    assert [m["text"] for m in again["history"]] == [WELCOME, QUESTION]
    assert again["history"][-1]["choices"] == CHOICES and "choices" not in again["history"][0]
    reloaded.close()

    visitor.send(type="text", text="Yes")
    run_until_some(run_jobs)
    badge = visitor.until(lambda f: f["type"] == "message" and f["text"].startswith("You earned First run"))
    assert badge["answer_mode"] == "program"
    message_frame(visitor, "Well done, friend.")

    enrollment = enrollment_of(app, program_id)
    assert (enrollment.status, enrollment.enrolled_via, enrollment.channel) == ("completed", "widget", "web")
    assert enrollment.answers == {"ready": "Yes"}
    sent = read(app, select(Message).where(Message.conversation_id == uuid.UUID(hello["conversation_id"])))
    assert [m.sender for m in sent if m.sender == "user"] == ["user"]  # the answer, stored once
    assert {m.answer_mode for m in sent if m.sender == "ai"} == {"program"}  # the AI never answered


def test_an_answer_that_is_no_choice_is_asked_again_without_echoing_the_visitor(
    app, client, live_server_url, creator, published_program, run_jobs
):
    program_id, _ = published_program(creator, settings={"widget_enroll": True})
    channel = create_channel(client, creator)
    visitor, hello, credential = connect(client, live_server_url, channel)
    visitor.send(type="start_program", program_id=str(program_id))
    visitor.until(lambda f: f["type"] == "program_started")
    run_jobs()
    message_frame(visitor, QUESTION)

    visitor.send(type="text", text="Maybe tomorrow")
    again = visitor.until(lambda f: f["type"] == "message")
    assert again["text"] == "Please answer with one of: Yes, Not yet." and again["choices"] == CHOICES
    assert [f["type"] for f in frames_until_pong(visitor)] == ["pong"]  # the visitor's own text is not pushed back
    assert enrollment_of(app, program_id).waiting_for == "answer"

    # The re-ask is what a reload offers the choices on.
    reloaded, hello_again, _ = connect(client, live_server_url, channel, credential=credential)
    history = hello_again["history"]
    assert [m["text"] for m in history][-2:] == ["Maybe tomorrow", again["text"]]
    assert history[-1]["choices"] == CHOICES and "choices" not in history[1]
    reloaded.close()


def test_programs_a_visitor_may_not_start_are_refused(app, client, live_server_url, two_creators, published_program):
    alice, bob = two_creators
    hidden, _ = published_program(alice, name="Invite only")
    theirs, _ = published_program(bob, name="Bob's plan", settings={"widget_enroll": True})
    with app.app_context():
        draft, _ = programs.create_program(
            uuid.UUID(alice.creator_id), {"name": "Draft", "flow_definition": {}, "settings": {"widget_enroll": True}}
        )
        draft_id = draft.id
    channel = create_channel(client, alice)
    visitor, hello, _ = connect(client, live_server_url, channel)
    assert hello["programs"] == []

    for program_id in (hidden, theirs, draft_id, uuid.uuid4()):
        visitor.send(type="start_program", program_id=str(program_id))
        assert visitor.until(lambda f: f["type"] == "error")["code"] == "NOT_AVAILABLE"
    visitor.send(type="start_program", program_id="not-an-id")
    assert visitor.until(lambda f: f["type"] == "error")["code"] == "BAD_FRAME"
    assert read(app, select(Enrollment)) == []


def test_a_new_visitor_gets_the_auto_enroll_program_once(
    app, client, live_server_url, creator, published_program, run_jobs
):
    program_id, _ = published_program(creator, settings={"auto_enroll": True})
    channel = create_channel(client, creator)
    visitor, hello, credential = connect(client, live_server_url, channel)
    run_until_some(run_jobs)
    message_frame(visitor, WELCOME)
    assert message_frame(visitor, QUESTION)["choices"] == CHOICES

    again, _, _ = connect(client, live_server_url, channel, credential=credential)
    again.close()
    enrollment = enrollment_of(app, program_id)  # one: coming back is no new user
    assert (enrollment.enrolled_via, enrollment.channel) == ("auto", "web")


# --- SMS ---------------------------------------------------------------------------------------


@pytest.fixture
def sms_program(app, client, creator, published_program, make_twilio_channel):
    """(program id, auth token): a program joined by texting RUN5K, whose quiet hours start two hours
    from now (UTC) and last four, so the test's texts land outside them."""
    hour = datetime.now(UTC).hour
    quiet = {"start": f"{(hour + 2) % 24:02d}:00", "end": f"{(hour + 6) % 24:02d}:00"}
    program_id, _ = published_program(creator, settings={"enroll_keyword": "RUN5K", "quiet_hours": quiet})
    return program_id, sms_line(client, creator, make_twilio_channel)


def sms_line(client, account, make_twilio_channel) -> str:
    """A verified (active) SMS number of the account's; returns its auth token."""
    channel, token = make_twilio_channel(account, "sms", "+15550001111")
    verified = client.post(f"/api/v1/channels/{channel['id']}/verify", headers=account.headers)
    assert verified.status_code == 200 and verified.json["status"] == "active", verified.json
    return token


def text(client, token, body, run_jobs):
    assert signed_post(client, "/webhooks/inbound", inbound_params(body=body), token).status_code == 200
    run_jobs()


def test_texting_the_keyword_enrolls_and_a_numbered_answer_takes_its_branch(app, client, sms_program, twilio, run_jobs):
    program_id, token = sms_program
    text(client, token, "run5k", run_jobs)

    enrollment = enrollment_of(app, program_id)
    assert (enrollment.enrolled_via, enrollment.channel, enrollment.waiting_for) == ("keyword", "sms", "answer")
    [user] = read(app, select(EndUser))
    assert user.consent_state == "OPT_IN"
    [consent] = read(app, select(ConsentEvent))
    assert (consent.previous_state, consent.state, consent.source, consent.detail) == (
        "PENDING",
        "OPT_IN",
        "keyword",
        "run5k",
    )
    assert [m["body"] for m in twilio.sent] == [WELCOME, f"{QUESTION}\n1. Yes\n2. Not yet"]

    text(client, token, "2", run_jobs)
    enrollment = enrollment_of(app, program_id)
    assert enrollment.answers == {"ready": "Not yet"} and enrollment.current_node_id == "end"
    assert abs(enrollment.due_at - (utcnow() + timedelta(hours=24))) < timedelta(minutes=1)  # the wait
    assert len(twilio.sent) == 2  # nothing until the day has passed, and no AI answer
    sources = {row.source for row in read(app, select(OutboundMessage))}
    assert sources == {"program"}
    assert {m.answer_mode for m in read(app, select(Message).where(Message.sender == "ai"))} == {"program"}

    # A day later, at a moment inside the user's quiet hours: the last message waits for them to end.
    with app.app_context():
        row = db.session.get(Enrollment, enrollment.id)
        db.session.get(EndUser, user.id).timezone = "Etc/GMT-3"  # UTC+3: inside the quiet hours now
        row.due_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert engine.run_steps(enrollment.id, row.step_seq) == 1
    deferred = enrollment_of(app, program_id)
    assert deferred.current_node_id == "end" and deferred.status == "active"
    assert utcnow() < deferred.due_at < utcnow() + timedelta(hours=5)
    [step] = read(app, select(EnrollmentStep).where(EnrollmentStep.outcome == "deferred"))
    assert step.node_id == "end" and "quiet hours" in step.detail

    with app.app_context():  # once they are over, it goes
        db.session.get(EndUser, user.id).timezone = None
        db.session.get(Enrollment, enrollment.id).due_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        engine.run_steps(enrollment.id, deferred.step_seq)
    run_jobs()
    assert twilio.sent[-1]["body"] == "Well done, friend."
    assert enrollment_of(app, program_id).status == "completed"


def test_the_keyword_again_says_already_in_it(app, client, sms_program, twilio, run_jobs):
    program_id, token = sms_program
    text(client, token, "RUN5K", run_jobs)
    text(client, token, "Run5k!", run_jobs)
    assert twilio.sent[-1]["body"] == "You're already in Couch to 5k."
    [reply] = read(app, select(OutboundMessage).where(OutboundMessage.source == "keyword_reply"))
    assert reply.status == "sent"
    assert enrollment_of(app, program_id).waiting_for == "answer"  # the keyword is no answer to the question


def test_a_stopped_texter_is_not_enrolled_by_the_keyword(app, client, sms_program, twilio, run_jobs):
    _, token = sms_program
    text(client, token, "STOP", run_jobs)
    text(client, token, "RUN5K", run_jobs)
    assert read(app, select(Enrollment)) == []
    [user] = read(app, select(EndUser))
    assert user.consent_state == "STOP"
    assert len(twilio.sent) == 1  # only the STOP's confirmation
    inbox = read(app, select(Message).where(Message.sender == "user").order_by(Message.created_at))
    assert [m.content for m in inbox] == ["STOP", "RUN5K"]  # it lands in the inbox


def test_a_first_texter_who_opts_in_joins_the_auto_enroll_program(
    app, client, creator, published_program, make_twilio_channel, twilio, run_jobs
):
    program_id, _ = published_program(creator, settings={"auto_enroll": True, "quiet_hours": None})
    token = sms_line(client, creator, make_twilio_channel)
    text(client, token, "START", run_jobs)
    assert enrollment_of(app, program_id).enrolled_via == "auto"
    assert [m["body"] for m in twilio.sent][1:] == [WELCOME, f"{QUESTION}\n1. Yes\n2. Not yet"]


def test_a_pending_first_texter_is_not_auto_enrolled(
    app, client, creator, published_program, make_twilio_channel, run_jobs
):
    published_program(creator, settings={"auto_enroll": True, "quiet_hours": None})
    token = sms_line(client, creator, make_twilio_channel)
    text(client, token, "Hello there", run_jobs)
    assert read(app, select(Enrollment)) == []  # a program may only text those who opted in


# --- The chat API --------------------------------------------------------------------------------


def chat(client, account, message, session="programs"):
    response = client.post(
        "/api/v1/chat/messages",
        headers=account.headers,
        json={"user_id": "runner-1", "session_id": session, "message": message},
    )
    assert response.status_code == 200, response.json
    return response.json


@pytest.fixture
def api_enrollment(app, creator, published_program, run_jobs):
    """The program id; its API user runner-1 (session "programs") waits on the question."""
    program_id, _ = published_program(creator)
    with app.app_context():
        user = assistant.get_or_create_end_user(uuid.UUID(creator.creator_id), "api", "runner-1")
        programs.enroll(user, db.session.get(Program, program_id), "api", "api")
    run_jobs()
    return program_id


def test_an_answer_through_the_chat_api_advances_the_flow(app, client, creator, api_enrollment):
    body = chat(client, creator, "Maybe")
    assert body["program"]["waiting_for"] == "answer" and body["program"]["choices"] == CHOICES
    assert body["response"]["text"] == "Please answer with one of: Yes, Not yet."

    body = chat(client, creator, "yes")
    program = body["program"]
    assert program["program_id"] == str(api_enrollment) and program["status"] == "completed"
    assert [m["text"] for m in program["messages"]][-1] == "Well done, friend."
    assert program["messages"][0]["text"].startswith("You earned First run")
    assert body["response"]["text"] == "Well done, friend." and body["response"]["answer_mode"] == "program"
    assert body["escalated"] is False
    assert enrollment_of(app, api_enrollment).answers == {"ready": "Yes"}


def test_a_chat_with_no_waiting_question_is_answered_by_the_ai(client, creator, api_enrollment):
    body = chat(client, creator, "Yes", session="another")
    assert body.get("program") is None and body["response"]["answer_mode"] != "program"
