"""/api/v1: chat for API consumers, session context and reset, end-user memories,
and the AI engine's model status and Ollama checks."""

import time
import uuid

from flask import current_app, g
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import select

from app.accounts.services import persona_for
from app.api.auth import auth_required, current_caller, rate_limit_key
from app.api.errors import ApiError
from app.api.schemas import BaseSchema
from app.assistant import pipeline, schemas, services
from app.assistant.llm import LLMUnavailable, ollama_host, stream_chat
from app.extensions import db, limiter
from app.knowledge.embeddings import LOCAL_MODEL, EmbeddingError, get_embedder, ollama_answers
from app.models import ConversationStatus, Message, ProgramVersion, Role
from app.models.base import utcnow
from app.programs import engine

bp = Blueprint("assistant_api", __name__, url_prefix="/api/v1", description="Chat, sessions, memories and AI models")
EDITORS = (Role.OWNER, Role.ADMIN)
# AI interactions count per creator (creator-hub-api: 100 an hour); a chat message that only answers a
# program's question is no AI interaction and is not counted (the route says so on `g`).
ai_limit = limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_API_AI"],
    scope="ai",
    key_func=rate_limit_key,
    deduct_when=lambda _response: g.get("ai_interaction", True),
)


class ProgramTurnSchema(BaseSchema):
    program_id = fields.UUID()
    enrollment_id = fields.UUID(attribute="id")
    status = fields.String(metadata={"description": "active, completed or exited"})
    waiting_for = fields.String(
        metadata={"description": "answer (a question waits for the reply), ready (a next step is due later), none"}
    )
    choices = fields.List(fields.String(), metadata={"description": "the choices of the question that waits"})
    messages = fields.List(fields.Nested(schemas.ReplySchema), metadata={"description": "what the program said"})


class ChatResponseSchema(schemas.ChatResponseSchema):
    program = fields.Nested(
        ProgramTurnSchema,
        allow_none=True,
        metadata={
            "description": "Set when the message answered a program's question: the program took it (no AI "
            "answer); `response` is the program's last message, null when its next step comes later."
        },
    )


@bp.route("/chat/messages", methods=["POST"])
@auth_required()
@ai_limit
@bp.arguments(schemas.ChatRequestSchema)
@bp.response(200, ChatResponseSchema)
def send_message(data):
    """Send an end user's message and get the assistant's reply with its sources (or, when it answers
    a program's question, what the program says next)."""
    end_user = services.get_or_create_end_user(current_caller().creator_id, "api", data["user_id"])
    conversation = services.get_or_create_conversation(end_user, data["session_id"])
    program = _program_turn(conversation, data["message"])
    if program is not None:
        g.ai_interaction = False
        return {
            "response": program["messages"][-1] if program["messages"] else None,
            "session_id": conversation.session_id,
            "conversation_id": conversation.id,
            "end_user_id": end_user.id,
            "status": conversation.status,
            "escalated": False,
            "program": program,
        }
    turn = pipeline.respond(conversation, data["message"])
    return {
        "response": turn.reply,
        "session_id": conversation.session_id,
        "conversation_id": conversation.id,
        "end_user_id": end_user.id,
        "status": conversation.status,
        "escalated": turn.escalated,
    }


def _program_turn(conversation, text: str) -> dict | None:
    """The program's turn when `text` answers its waiting question, else None (the AI answers).

    The steps the answer makes due now run in this request, and only here: the caller, who has
    no socket to be pushed to, gets what the program says next. Were they also queued, a worker
    could take one of them first and this reply would stop at whatever it had committed by then
    (a request that dies before running them leaves them to the program sweep).
    """
    enrollment = engine.waiting_enrollment(conversation)
    if enrollment is None or conversation.status == ConversationStatus.WITH_AGENT:
        return None
    since = utcnow()
    result = engine.take_answer(conversation, pipeline.clean(text), queue_due_steps=False)
    if result is None:
        return None
    engine.after_commit(result)
    db.session.refresh(enrollment)
    if result.run_next_now:
        engine.run_steps(enrollment.id, enrollment.step_seq)
        db.session.refresh(enrollment)
    choices = None
    if enrollment.waiting_for == "answer":
        graph = engine.graph_of(db.session.get(ProgramVersion, enrollment.version_id))
        choices = graph.data(enrollment.current_node_id).get("choices")
    messages = db.session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.sender == "ai", Message.created_at >= since)
        .order_by(Message.created_at)
    ).all()
    return {
        "program_id": enrollment.program_id,
        "id": enrollment.id,
        "status": enrollment.status,
        "waiting_for": enrollment.waiting_for,
        "choices": choices or [],
        "messages": messages,
    }


@bp.route("/chat/sessions/<session_id>/context", methods=["GET"])
@auth_required()
@bp.arguments(schemas.UserQuerySchema, location="query")
@bp.response(200, schemas.SessionContextSchema)
def session_context(query, session_id: str):
    """The turns the assistant currently considers, and what it knows about the user."""
    conversation = services.find_conversation(current_caller().creator_id, query["user_id"], session_id)
    return {
        "session_id": session_id,
        "user_id": query["user_id"],
        "end_user_id": conversation.end_user_id,
        "channel": conversation.channel,
        "status": conversation.status,
        "last_interaction": conversation.last_message_at,
        "context": {
            "conversation_history": services.history(conversation),
            "memories": services.memories_for(conversation.end_user),
        },
    }


@bp.route("/chat/sessions/<session_id>/reset", methods=["POST"])
@auth_required()
@bp.arguments(schemas.UserQuerySchema)
@bp.response(200, schemas.ResetSchema)
def reset_session(data, session_id: str):
    """Clear the session's context; the messages stay in the inbox."""
    services.reset_context(services.find_conversation(current_caller().creator_id, data["user_id"], session_id))
    return {"status": "success", "message": "Session context has been reset", "session_id": session_id}


@bp.route("/users/<uuid:user_id>/memories", methods=["GET"])
@auth_required()
@bp.response(200, schemas.MemoryListSchema)
def list_memories(user_id: uuid.UUID):
    """What the assistant knows about an end user."""
    end_user = services.get_end_user(current_caller().creator_id, user_id)
    return {"user_id": end_user.id, "memories": services.memories_for(end_user)}


@bp.route("/users/<uuid:user_id>/memories", methods=["POST"])
@auth_required()
@bp.arguments(schemas.MemorySchema)
@bp.response(201, schemas.MemorySchema)
def store_memory(data, user_id: uuid.UUID):
    """Store or update a memory (one value per key)."""
    end_user = services.get_end_user(current_caller().creator_id, user_id)
    memory = services.remember(end_user, data["key"], data["value"], data["kind"], source="api")
    db.session.commit()
    return memory


@bp.route("/users/<uuid:user_id>/memories/<uuid:memory_id>", methods=["DELETE"])
@auth_required()
@bp.response(204)
def delete_memory(user_id: uuid.UUID, memory_id: uuid.UUID):
    services.forget(services.get_end_user(current_caller().creator_id, user_id), memory_id)


class ModelStatusSchema(BaseSchema):
    chat = fields.Dict()
    embeddings = fields.Dict()


class OllamaHealthSchema(BaseSchema):
    status = fields.String()
    host = fields.String(allow_none=True)
    fallback = fields.String(allow_none=True)


class TestResultSchema(BaseSchema):
    model = fields.String()
    took_ms = fields.Float()
    response = fields.String()
    dimension = fields.Integer()


@bp.route("/ai/models/status", methods=["GET"])
@auth_required()
@bp.response(200, ModelStatusSchema)
def model_status():
    """Which chat and embedding models answer now, and what is used when they do not."""
    persona = persona_for(current_caller().creator)
    host = ollama_host()
    return {
        "chat": {
            "provider": "ollama" if host else "extractive",
            "model": persona.model if host else None,
            "available": bool(host),
            "fallback": "grounded extractive answers from your passages",
        },
        "embeddings": {
            "local": {"model": LOCAL_MODEL, "available": True},
            "ollama": {"available": bool(host), "host": host},
        },
    }


@bp.route("/ai/ollama/health", methods=["GET"])
@auth_required()
@bp.response(200, OllamaHealthSchema)
def ollama_health():
    host = current_app.config.get("OLLAMA_HOST")
    if not host:
        return {"status": "not_configured", "host": None, "fallback": "extractive"}
    return {
        "status": "ok" if ollama_answers(host) else "unreachable",
        "host": host,
        "fallback": None if ollama_answers(host) else "extractive",
    }


@bp.route("/ai/ollama/test-embedding", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.TestEmbeddingSchema)
@bp.response(200, TestResultSchema)
@bp.alt_response(503, response="SERVICE_UNAVAILABLE")
def test_embedding(data):
    """Embed a text with a model (the local one by default) and report its size and time."""
    model = data.get("model") or LOCAL_MODEL
    started = time.perf_counter()
    try:
        vector = get_embedder(model).embed_query(data["text"])
    except EmbeddingError as error:
        raise ApiError(503, str(error)) from error
    return {"model": model, "dimension": len(vector), "took_ms": round((time.perf_counter() - started) * 1000, 1)}


@bp.route("/ai/ollama/test-chat", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.TestChatSchema)
@bp.response(200, TestResultSchema)
@bp.alt_response(503, response="SERVICE_UNAVAILABLE")
def test_chat(data):
    """Send one message straight to the Ollama chat model (no knowledge, no persona)."""
    model = data.get("model") or persona_for(current_caller().creator).model
    started = time.perf_counter()
    try:
        text = "".join(stream_chat(model, [{"role": "user", "content": data["message"]}], 256))
    except LLMUnavailable as error:
        raise ApiError(503, f"{error} Answers use the extractive fallback.") from error
    return {"model": model, "response": text, "took_ms": round((time.perf_counter() - started) * 1000, 1)}
