"""The widget's WebSocket (flask-sock): one conversation per visitor.

Frames are JSON objects with a "type", as in the WebSocket Protocol source:
the visitor sends text, typing, handover_request and ping; the server sends
connection_established, typing, message (sender ai/agent; AI answers stream
as "delta" pieces, then one final frame with the whole text and its
sources), handover_request, handover_initiated, status and error.
Programs add start_program (the visitor enrolls themselves; answered with
program_started) and program messages (answer_mode "program", with the
question's "choices"); a text that answers a program's waiting question moves
the program on instead of reaching the AI. Events
for the visitor from other processes (an agent's reply) arrive through
Redis pub/sub: the process's realtime hub (app/realtime.py) sends them from
its own threads, so the handler only waits for the visitor's frames.

Each open socket holds one gunicorn gthread thread for its lifetime (and
simple_websocket's reader thread), so the handler blocks in ws.receive()
without polling, never sits inside a DB transaction while it waits, and a
process past WIDGET_MAX_SOCKETS refuses new sockets so pages and the API
keep threads to run on.
"""

import json
import logging
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime

from flask import current_app, request
from simple_websocket import ConnectionClosed

from app.api.errors import ApiError
from app.assistant import pipeline
from app.assistant import services as assistant
from app.extensions import db, sock
from app.inbox import services as inbox
from app.models import ConversationStatus, Member, Message, Program, ProgramVersion
from app.programs import engine
from app.programs import services as programs
from app.realtime import HubFull, hub
from app.widget import public_bp
from app.widget.services import active_web_channel, origin_allowed, read_visitor_token

log = logging.getLogger(__name__)
HISTORY = 50
TRY_AGAIN_LATER = 1013  # WebSocket close code: the server is at capacity
LIVENESS_CHECK_SECONDS = 5  # an idle socket's handler wakes this often (see LockedSocket.receive)


class FrameError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class LockedSocket:
    """A socket that two threads may send on (its handler and the hub's senders), one frame at a time."""

    def __init__(self, ws):
        self.ws = ws
        self._lock = threading.Lock()

    def send(self, data) -> None:
        with self._lock:
            self.ws.send(data)

    def receive(self):
        """The visitor's next frame; ConnectionClosed once they are gone.

        Waits in long slices, not forever: simple_websocket 1.1.0 wakes a waiting receive()
        before it marks an over-size frame's connection closed, and a receive() without a
        timeout would then sleep on, holding its thread for good.
        """
        while True:
            raw = self.ws.receive(timeout=LIVENESS_CHECK_SECONDS)
            if raw is not None:
                return raw
            if not self.ws.connected or not self.ws.thread.is_alive():
                raise ConnectionClosed(self.ws.close_reason, self.ws.close_message)

    def close(self, reason=None, message=None) -> None:
        with self._lock:
            self.ws.close(reason=reason, message=message)


def send(ws, **frame) -> None:
    ws.send(json.dumps(frame, default=_json_value))


def _json_value(value):
    """Timestamps as the API writes them (ISO 8601 UTC with a Z), whichever frame carries them."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return str(value)


def _refuse(ws, code: int, reason: str) -> None:
    send(ws, type="error", code="CONNECTION_REFUSED", message=reason)
    ws.close(reason=code, message=reason)


@sock.route("/widget/ws/<uuid:channel_id>", bp=public_bp)
def widget_socket(ws, channel_id):
    channel = active_web_channel(channel_id)
    if channel is None:
        return _refuse(ws, 4404, "Unknown channel.")
    if not origin_allowed(channel, request.headers.get("Origin")):
        return _refuse(ws, 4403, "This website may not use this chat widget.")
    try:
        visitor_id = read_visitor_token(request.args.get("token"), channel.id)
    except ApiError as error:
        return _refuse(ws, 4401, error.description)
    end_user, new_visitor = assistant.end_user_for(channel.creator_id, "web", visitor_id)
    conversation = assistant.get_or_create_conversation(end_user, visitor_id)
    db.session.commit()
    if new_visitor:  # only on the first connection: auto_enroll programs start for new users
        programs.auto_enroll(end_user)
    ws = LockedSocket(ws)
    try:
        registration = hub().register(
            conversation.id, lambda event: send(ws, **event), limit=current_app.config["WIDGET_MAX_SOCKETS"]
        )
    except HubFull:
        db.session.remove()
        log.warning("widget socket refused: process at WIDGET_MAX_SOCKETS")
        return _refuse(ws, TRY_AGAIN_LATER, "The chat is busy; reconnecting shortly.")
    try:
        _welcome(ws, channel, conversation)
        db.session.commit()  # never sit idle inside a transaction: it would block writers
        _serve(ws, conversation)
    except ConnectionClosed:
        pass
    finally:
        hub().unregister(registration)
        db.session.remove()


def _welcome(ws, channel, conversation) -> None:
    history = assistant.history(conversation, HISTORY)  # since the last context reset, if any
    frames = [_message_frame(m, conversation) for m in history]
    _offer_choices_again(conversation, history, frames)
    send(
        ws,
        type="connection_established",
        conversation_id=conversation.id,
        status=conversation.status,
        config={k: v for k, v in channel.widget.items() if k != "allowed_origins"},
        history=frames,
        programs=[
            {"id": p.id, "name": p.name, "description": p.description or ""}
            for p in programs.widget_programs(channel.creator_id)
        ],
    )


def _offer_choices_again(conversation, history: list[Message], frames: list[dict]) -> None:
    """After a reload, the question still waiting for an answer shows its choices again: they go
    on the last program message since the question was asked (the question, or its re-ask)."""
    enrollment = engine.waiting_enrollment(conversation)
    if enrollment is None or enrollment.last_step_at is None:
        return
    graph = engine.graph_of(db.session.get(ProgramVersion, enrollment.version_id))
    choices = graph.data(enrollment.current_node_id).get("choices")
    for message, frame in zip(reversed(history), reversed(frames), strict=True):
        if message.answer_mode == engine.PROGRAM_MODE and message.created_at >= enrollment.last_step_at:
            frame["program_id"] = enrollment.program_id
            if choices:
                frame["choices"] = list(choices)
            return


def _serve(ws, conversation) -> None:
    """Answer the visitor's frames until they leave (ConnectionClosed ends it)."""
    frames, messages = (
        Throttle(current_app.config["WIDGET_FRAMES_PER_MINUTE"]),
        Throttle(current_app.config["WIDGET_MESSAGES_PER_MINUTE"]),
    )
    while True:
        raw = ws.receive()  # waits; the ping_interval of SOCK_SERVER_OPTIONS ends dead clients
        try:
            if not frames.allow():
                if frames.warn():
                    raise FrameError("RATE_LIMITED", "Too many frames; slow down.")
                continue  # told once per minute; the rest of a flood is dropped unread
            frame = _parse(raw)
            if frame["type"] in ("text", "start_program") and not messages.allow():
                raise FrameError("RATE_LIMITED", "Too many messages; wait a moment before sending more.")
            _handle(ws, conversation, frame)
        except FrameError as error:
            send(ws, type="error", code=error.code, message=str(error))
        except ConnectionClosed:
            raise
        except Exception:  # one frame's failure is that frame's error, not the end of the visitor's socket
            log.exception("widget frame failed", extra={"conversation_id": str(conversation.id)})
            db.session.rollback()
            send(ws, type="error", code="INTERNAL_ERROR", message="Something went wrong with that message; try again.")
        finally:
            db.session.commit()


def _parse(raw) -> dict:
    if isinstance(raw, bytes) or len(raw) > current_app.config["WIDGET_MAX_FRAME_BYTES"]:
        raise FrameError("BAD_FRAME", "Frames must be JSON text of at most 16 KB.")
    try:
        frame = json.loads(raw)
    except ValueError as error:
        raise FrameError("BAD_FRAME", "Frames must be JSON objects.") from error
    if not isinstance(frame, dict) or frame.get("type") not in FRAME_TYPES:
        raise FrameError("BAD_FRAME", "Unknown frame type.")
    if frame["type"] == "text":
        text = frame.get("text")
        if not isinstance(text, str) or not pipeline.clean(text) or len(text) > pipeline.MAX_MESSAGE_CHARS:
            raise FrameError("BAD_FRAME", "A text frame needs a 'text' of 1 to 4000 characters.")
        frame["text"] = pipeline.clean(text)  # every path (AI, program answer) gets storable text
    if frame["type"] == "start_program":
        try:
            frame["program_id"] = uuid.UUID(str(frame.get("program_id")))
        except ValueError as error:
            raise FrameError("BAD_FRAME", "A start_program frame needs the 'program_id' of a program.") from error
    return frame


FRAME_TYPES = ("text", "typing", "handover_request", "ping", "start_program")


class Throttle:
    """At most `per_minute` events in any sliding minute, for one socket."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.recent: deque[float] = deque()
        self.warned_at = float("-inf")

    def allow(self) -> bool:
        now = time.monotonic()
        while self.recent and now - self.recent[0] > 60:
            self.recent.popleft()
        if len(self.recent) >= self.per_minute:
            return False
        self.recent.append(now)
        return True

    def warn(self) -> bool:
        """True once per minute of refusals: a flood gets one error frame, not one per frame."""
        now = time.monotonic()
        if now - self.warned_at < 60:
            return False
        self.warned_at = now
        return True


def _handle(ws, conversation, frame: dict) -> None:
    db.session.refresh(conversation)  # an agent may have taken over from another process
    if frame["type"] == "ping":
        send(ws, type="pong")
    elif frame["type"] == "handover_request":
        _request_human(ws, conversation)
    elif frame["type"] == "text":
        _answer(ws, conversation, frame["text"])
    elif frame["type"] == "start_program":
        _start_program(ws, conversation, frame["program_id"])


def _request_human(ws, conversation) -> None:
    if conversation.status != ConversationStatus.WITH_AGENT:
        conversation.status = ConversationStatus.WAITING
        conversation.escalation_reason = "visitor asked for a human"
        assistant.add_message(conversation, "system", "The visitor asked to talk to a human.")
        db.session.commit()
    send(
        ws,
        type="handover_request",
        status=conversation.status,
        text="Thanks! A team member will reply here as soon as possible.",
    )


def _start_program(ws, conversation, program_id: uuid.UUID) -> None:
    """The visitor enrolls themselves; the program's messages then arrive through the hub."""
    program = db.session.get(Program, program_id)
    if (
        program is None
        or program.creator_id != conversation.creator_id
        or not (program.settings or {}).get("widget_enroll")
    ):
        raise FrameError("NOT_AVAILABLE", "This program cannot be started here.")
    try:
        enrollment = programs.enroll(conversation.end_user, program, "widget", "web")
    except ApiError as error:
        db.session.rollback()
        code = "ALREADY_ENROLLED" if error.code == 409 else "NOT_AVAILABLE"
        raise FrameError(code, error.description) from error
    send(ws, type="program_started", program_id=program.id, enrollment_id=enrollment.id, name=program.name)


def _answer(ws, conversation, text: str) -> None:
    if conversation.status != ConversationStatus.WITH_AGENT:
        answered = engine.take_answer(conversation, text)  # commits when a program's question waits
        if answered is not None:
            # The widget already shows the visitor's own text: push only the program's messages.
            answered.frames = [(c, f) for c, f in answered.frames if f.get("sender") != "user"]
            engine.after_commit(answered)
            return
        send(ws, type="typing", sender="ai", active=True)
    turn = pipeline.respond(
        conversation, text, on_token=lambda piece: send(ws, type="message", sender="ai", delta=piece)
    )
    if turn.reply is None:
        send(ws, type="status", status=conversation.status, text="A team member has this conversation.")
        return
    send(ws, type="typing", sender="ai", active=False)
    send(ws, **_message_frame(turn.reply), done=True, escalated=turn.escalated)


def _message_frame(message, conversation=None) -> dict:
    frame = {
        "type": "message",
        "sender": message.sender,
        "text": message.content,
        "message_id": message.id,
        "answer_mode": message.answer_mode,
        "sources": message.sources or [],
        "created_at": message.created_at,
    }
    if message.sender == "agent" and conversation is not None:  # named as in the live frame
        member = db.session.get(Member, message.member_id) if message.member_id else None
        frame |= {"agent_id": message.member_id, "agent_name": inbox.agent_name(conversation, member)}
    return frame
