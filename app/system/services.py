"""Readiness checks: each dependency reported with its mode and latency."""

import time
import uuid

from flask import current_app
from sqlalchemy import text

from app.extensions import db, redis_connection
from app.jobs import queue_depths
from app.knowledge import vectors
from app.vectorstore import chroma_client


def timed(check) -> dict:
    started = time.perf_counter()
    try:
        result = check() or {}
        result.setdefault("status", "ok")
    except Exception as exc:  # a readiness probe reports failures, it does not raise them
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_database() -> dict:
    db.session.execute(text("SELECT 1"))
    return {"backend": db.engine.dialect.name}


def check_redis() -> dict:
    redis_connection().ping()
    mode = "redis" if current_app.config["REDIS_URL"] else "embedded (in-process fakeredis)"
    return {"mode": mode, "queues": queue_depths()}


def check_chroma() -> dict:
    """Whether Chroma answers; no collection counts, which would add up every tenant's."""
    chroma_client().heartbeat()
    mode = "server" if current_app.config["CHROMA_HOST"] else "embedded (persistent client)"
    return {"mode": mode}


def chroma_health(creator_id: uuid.UUID) -> dict:
    """GET /api/v1/ai/chromadb/health: Chroma's state and the caller's own collections."""

    def check() -> dict:
        return check_chroma() | {"collections": len(vectors.stats(creator_id))}

    return timed(check)


def check_ollama() -> dict:
    host = current_app.config["OLLAMA_HOST"]
    if not host:
        return {"status": "not_configured", "fallback": "grounded extractive answers"}
    import ollama

    models = ollama.Client(host=host, timeout=3).list()
    return {"host": host, "models": [m.model for m in models.models]}


# Ollama is optional: without it answers fall back to extractive ones.
REQUIRED = ("database", "redis", "chroma")


def readiness() -> tuple[bool, dict]:
    checks = {
        "database": timed(check_database),
        "redis": timed(check_redis),
        "chroma": timed(check_chroma),
        "ollama": timed(check_ollama),
    }
    if checks["ollama"]["status"] == "error":
        checks["ollama"]["fallback"] = "grounded extractive answers"
    ready = all(checks[name]["status"] == "ok" for name in REQUIRED)
    return ready, checks
