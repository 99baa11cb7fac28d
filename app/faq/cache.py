"""The response cache: a generated answer to a question asked without prior
context is kept and reused when the same question comes again.

Only context-free turns take part (no earlier turns in the conversation, and,
when storing, nothing remembered about the user), so a cached answer never
carries someone else's context. Each entry records the version of the
knowledge and persona it was made from; when a document or the persona
changes, or answers start or stop coming from Ollama, the version changes
and old entries simply stop matching.
"""

import hashlib
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import case, delete, func, select

from app.extensions import db
from app.faq.services import normalize_question
from app.models import AIPersona, CachedResponse, Conversation, Document, Message
from app.models.base import utcnow

CACHEABLE_MODES = ("llm", "extractive")


def _generator(persona: AIPersona) -> str:
    """What makes answers now: the persona's Ollama model, or the offline extractive composer."""
    return persona.model if current_app.config.get("OLLAMA_HOST") else "extractive"


def cacheable(answer_mode: str, persona: AIPersona) -> bool:
    """Keep answers of the intended generator only: never pin an offline answer while Ollama is down."""
    return answer_mode == ("extractive" if _generator(persona) == "extractive" else "llm")


def query_key(text: str) -> str:
    return hashlib.sha256(normalize_question(text).encode()).hexdigest()


def knowledge_version(creator_id: uuid.UUID, persona: AIPersona) -> str:
    count, newest = db.session.execute(
        select(func.count(Document.id), func.max(Document.updated_at)).where(Document.creator_id == creator_id)
    ).one()
    return hashlib.sha256(f"{count}|{newest}|{persona.updated_at}|{_generator(persona)}".encode()).hexdigest()


def lookup(creator_id: uuid.UUID, text: str, version: str) -> CachedResponse | None:
    entry = db.session.scalar(
        select(CachedResponse).where(
            CachedResponse.creator_id == creator_id,
            CachedResponse.query_key == query_key(text),
            CachedResponse.knowledge_version == version,
            CachedResponse.expires_at > utcnow(),
        )
    )
    if entry is not None:
        entry.hits += 1
        entry.last_hit_at = utcnow()
    return entry


def store(creator_id: uuid.UUID, text: str, version: str, origin: str = "conversation", **answer) -> CachedResponse:
    """Keep an answer (content, answer_mode, sources, confidence, model) for this question."""
    key = query_key(text)
    entry = db.session.scalar(
        select(CachedResponse).where(CachedResponse.creator_id == creator_id, CachedResponse.query_key == key)
    )
    if entry is None:
        entry = CachedResponse(creator_id=creator_id, query_key=key, hits=0)
        db.session.add(entry)
    now = utcnow()
    entry.query = " ".join(text.split())  # as asked; the key compares the normalized form
    entry.answer = answer["content"]
    entry.answer_mode = answer["answer_mode"]
    entry.sources = answer.get("sources") or []
    entry.confidence = answer.get("confidence")
    entry.model = answer.get("model")
    entry.knowledge_version = version
    entry.origin = origin
    entry.created_at = now
    entry.expires_at = now + timedelta(seconds=current_app.config["RESPONSE_CACHE_TTL_SECONDS"])
    db.session.flush()
    return entry


def clear(creator_id: uuid.UUID) -> int:
    result = db.session.execute(delete(CachedResponse).where(CachedResponse.creator_id == creator_id))
    db.session.commit()
    return result.rowcount


def stats(creator_id: uuid.UUID, days: int = 30, top: int = 10) -> dict:
    """How often answers came from the cache, overall and by channel, and the most reused questions.

    The hit rate is over the AI answers the cache could have served (generated
    or extractive answers) in the last `days` days.
    """
    now = utcnow()
    live = (CachedResponse.creator_id == creator_id) & (CachedResponse.expires_at > now)
    total_cached, total_hits = db.session.execute(
        select(func.count(CachedResponse.id), func.coalesce(func.sum(CachedResponse.hits), 0)).where(live)
    ).one()
    served = func.sum(case((Message.cached_response.is_(True), 1), else_=0))
    rows = db.session.execute(
        select(Conversation.channel, func.count(Message.id), served)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.creator_id == creator_id,
            Message.sender == "ai",
            Message.answer_mode.in_(CACHEABLE_MODES),
            Message.created_at >= now - timedelta(days=days),
        )
        .group_by(Conversation.channel)
    ).all()
    by_channel = {
        channel: {"answers": answers, "cache_hits": int(hits or 0), "hit_rate": _rate(hits, answers)}
        for channel, answers, hits in rows
    }
    answers = sum(c["answers"] for c in by_channel.values())
    hits = sum(c["cache_hits"] for c in by_channel.values())
    top_queries = db.session.execute(
        select(CachedResponse.query, CachedResponse.hits)
        .where(live, CachedResponse.hits > 0)
        .order_by(CachedResponse.hits.desc(), CachedResponse.query)
        .limit(top)
    ).all()
    return {
        "total_cached": total_cached,
        "total_hits": int(total_hits),
        "hit_rate": _rate(hits, answers),
        "period_days": days,
        "by_channel": by_channel,
        "top_queries": [{"query": query, "hits": hits} for query, hits in top_queries],
    }


def _rate(hits, answers) -> float:
    """Percent, one decimal."""
    return round(100.0 * (hits or 0) / answers, 1) if answers else 0.0
