"""The one reply pipeline every channel uses (chat API now; widget, SMS,
WhatsApp and programs call the same function).

A turn: store the user's message and what it says about them; if a human has
the conversation, stop there. Otherwise answer "what do you know about me"
from memory, refuse prohibited topics, retrieve from the creator's
knowledge, and below the confidence threshold answer with the creator's
fallback message and escalate. Else generate with Ollama (streamed) or, when
none answers, compose an extractive answer from the passages.
"""

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.accounts.services import persona_for
from app.assistant import memory, prompt, services
from app.assistant.extractive import extractive_answer
from app.assistant.llm import LLMUnavailable, stream_chat
from app.extensions import db
from app.knowledge import search
from app.knowledge.embeddings import LOCAL_MODEL, get_embedder
from app.models import Conversation, ConversationStatus, Creator, Message
from app.models.base import utcnow

log = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 4000
PASSAGES = 5
TOPIC_SIMILARITY = 0.55  # MiniLM cosine above which a message is "about" a prohibited topic
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Turn:
    user_message: Message
    reply: Message | None  # None while a human agent has the conversation
    escalated: bool = False


def clean(text: str) -> str:
    return _CONTROL.sub("", text).strip()[:MAX_MESSAGE_CHARS]


def respond(conversation: Conversation, text: str, on_token: Callable[[str], None] | None = None) -> Turn:
    """Run one turn; `on_token` receives the answer piece by piece when it is generated."""
    started = time.perf_counter()
    text = clean(text)
    end_user = conversation.end_user
    user_message = services.add_message(conversation, "user", text)
    end_user.last_active_at = utcnow()
    for key, kind, value in memory.extract(text):
        services.remember(end_user, key, value, kind)
    if conversation.status == ConversationStatus.WITH_AGENT:
        db.session.commit()
        return Turn(user_message, None)
    reply = _answer(conversation, text, on_token)
    reply.latency_ms = int((time.perf_counter() - started) * 1000)
    db.session.commit()
    return Turn(user_message, reply, escalated=reply.answer_mode == "fallback")


def _answer(conversation: Conversation, text: str, on_token) -> Message:
    creator = _creator(conversation)
    persona = persona_for(creator)
    memories = services.memories_for(conversation.end_user)
    if memory.asks_about_self(text):
        return _say(conversation, memory.describe(memories), on_token, answer_mode="memory")
    topic = prohibited_topic(text, persona.prohibited_topics)
    if topic:
        return _escalate(conversation, persona, f"prohibited topic: {topic}", on_token)
    hits = search.search(conversation.creator_id, text, limit=PASSAGES)
    confidence = max(hits[0].dense_score or 0.0, 0.0) if hits else 0.0
    if confidence < persona.confidence_threshold:
        return _escalate(conversation, persona, "low confidence", on_token, confidence)
    sources = [_source(hit) for hit in hits[:3]]
    history = services.history(conversation)[:-1]  # without the message just stored
    messages = prompt.build_messages(persona, creator.company_name or creator.full_name, history, hits, memories, text)
    try:
        content = "".join(_streamed(stream_chat(persona.model, messages, persona.max_response_tokens), on_token))
        return services.add_message(
            conversation,
            "ai",
            content,
            answer_mode="llm",
            model=persona.model,
            sources=sources,
            confidence=round(confidence, 3),
        )
    except LLMUnavailable as error:
        log.info("answering extractively", extra={"reason": str(error)})
    content = extractive_answer(text, hits, hits[0].document.knowledge_base.embedding_model)
    return _say(
        conversation,
        content,
        on_token,
        answer_mode="extractive",
        sources=sources,
        confidence=round(confidence, 3),
        model="extractive",
    )


def _streamed(pieces, on_token):
    for piece in pieces:
        if on_token:
            on_token(piece)
        yield piece


def _say(conversation, content: str, on_token, **fields) -> Message:
    if on_token:
        on_token(content)
    return services.add_message(conversation, "ai", content, **fields)


def _escalate(conversation, persona, reason: str, on_token, confidence: float | None = None) -> Message:
    """Answer with the creator's fallback message and ask for a human."""
    conversation.status = ConversationStatus.WAITING
    conversation.escalation_reason = reason
    return _say(
        conversation,
        persona.fallback_message,
        on_token,
        answer_mode="fallback",
        confidence=None if confidence is None else round(confidence, 3),
    )


def _creator(conversation: Conversation) -> Creator:
    return db.session.get(Creator, conversation.creator_id)


def _source(hit) -> dict:
    return {
        "document_id": str(hit.document.id),
        "document_title": hit.document.title,
        "chunk_id": str(hit.chunk.id),
        "chunk_index": hit.chunk.chunk_index,
        "section": hit.chunk.section,
        "score": hit.score,
        "snippet": hit.chunk.content[:300],
    }


def prohibited_topic(text: str, topics: list[str]) -> str | None:
    """The first prohibited topic the message is about: named outright, or close in meaning."""
    if not topics:
        return None
    lowered = text.lower()
    for topic in topics:
        if re.search(r"\b" + re.escape(topic.lower()) + r"\b", lowered):
            return topic
    embedder = get_embedder(LOCAL_MODEL)
    vectors = np.asarray(embedder.embed_documents(topics), dtype=np.float32)
    similarity = vectors @ np.asarray(embedder.embed_query(text), dtype=np.float32)
    best = int(np.argmax(similarity))
    return topics[best] if similarity[best] >= TOPIC_SIMILARITY else None
