"""/api/v1: chat for API consumers, session context and reset, end-user memories,
and the AI engine's model status and Ollama checks."""

import time
import uuid

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import fields

from app.accounts.services import persona_for
from app.api.auth import auth_required, current_caller, rate_limit_key
from app.api.errors import ApiError
from app.api.schemas import BaseSchema
from app.assistant import pipeline, schemas, services
from app.assistant.llm import LLMUnavailable, ollama_host, stream_chat
from app.extensions import db, limiter
from app.knowledge.embeddings import LOCAL_MODEL, EmbeddingError, get_embedder, ollama_answers
from app.models import Role

bp = Blueprint("assistant_api", __name__, url_prefix="/api/v1", description="Chat, sessions, memories and AI models")
EDITORS = (Role.OWNER, Role.ADMIN)
# AI interactions count per creator (creator-hub-api: 100 an hour).
ai_limit = limiter.shared_limit(lambda: current_app.config["RATELIMIT_API_AI"], scope="ai", key_func=rate_limit_key)


@bp.route("/chat/messages", methods=["POST"])
@auth_required()
@ai_limit
@bp.arguments(schemas.ChatRequestSchema)
@bp.response(200, schemas.ChatResponseSchema)
def send_message(data):
    """Send an end user's message and get the assistant's reply with its sources."""
    end_user = services.get_or_create_end_user(current_caller().creator_id, "api", data["user_id"])
    conversation = services.get_or_create_conversation(end_user, data["session_id"])
    turn = pipeline.respond(conversation, data["message"])
    return {
        "response": turn.reply,
        "session_id": conversation.session_id,
        "conversation_id": conversation.id,
        "end_user_id": end_user.id,
        "status": conversation.status,
        "escalated": turn.escalated,
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
def test_chat(data):
    """Send one message straight to the Ollama chat model (no knowledge, no persona)."""
    model = data.get("model") or persona_for(current_caller().creator).model
    started = time.perf_counter()
    try:
        text = "".join(stream_chat(model, [{"role": "user", "content": data["message"]}], 256))
    except LLMUnavailable as error:
        raise ApiError(503, f"{error} Answers use the extractive fallback.") from error
    return {"model": model, "response": text, "took_ms": round((time.perf_counter() - started) * 1000, 1)}
