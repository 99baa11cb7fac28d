"""The one reply pipeline every channel uses (chat API, widget; SMS, WhatsApp
and programs call the same function).

A turn: store the user's message and what it says about them; if a human has
the conversation, stop there. Otherwise, in order: answer "what do you know
about me" from memory; refuse prohibited topics; answer from a published FAQ
entry; reuse a cached answer to the same context-free question; retrieve
from the creator's knowledge and, below the confidence threshold, answer
with the creator's fallback message and escalate. Else generate with Ollama
(streamed) or, when none answers, compose an extractive answer from the
passages.
"""

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from app.accounts.services import persona_for
from app.assistant import memory, prompt, services
from app.assistant.extractive import extractive_answer
from app.assistant.llm import LLMUnavailable, stream_chat
from app.extensions import db
from app.faq import cache
from app.faq import services as faq
from app.knowledge import search
from app.knowledge.embeddings import LOCAL_MODEL, get_embedder
from app.models import AIPersona, Conversation, ConversationStatus, Creator, FaqEntry, Message
from app.models.base import utcnow

log = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 4000
PASSAGES = 5
SOURCE_FLOOR = 0.6  # a passage is cited when it scores at least this share of the best one
TOPIC_SIMILARITY = 0.55  # MiniLM cosine above which a message is "about" a prohibited topic
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # a lone UTF-16 half from JSON: no encoding, no database stores it


@dataclass
class Turn:
    user_message: Message
    reply: Message | None  # None while a human agent has the conversation
    escalated: bool = False


@dataclass
class Answer:
    """What the assistant says, before it is stored as a message."""

    content: str
    answer_mode: str  # llm, extractive, faq, fallback, memory
    sources: list = field(default_factory=list)
    confidence: float | None = None
    model: str | None = None
    escalation: str | None = None  # why a human is asked for, on a fallback
    cached: bool = False  # reused from the response cache
    faq_entry: FaqEntry | None = None  # the FAQ entry that answered


def clean(text: str) -> str:
    """A message as it may be stored: no control characters, lone surrogates shown as �."""
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text)).strip()[:MAX_MESSAGE_CHARS]


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
    reply = _reply(conversation, text, on_token)
    reply.latency_ms = int((time.perf_counter() - started) * 1000)
    db.session.commit()
    return Turn(user_message, reply, escalated=reply.answer_mode == "fallback")


def _reply(conversation: Conversation, text: str, on_token) -> Message:
    creator = db.session.get(Creator, conversation.creator_id)
    persona = persona_for(creator)
    memories = services.memories_for(conversation.end_user)
    if memory.asks_about_self(text):
        return _say(conversation, Answer(memory.describe(memories), "memory"), on_token)
    history = services.history(conversation)[:-1]  # without the message just stored
    # Context-free (nothing earlier the answer could depend on): the response cache takes part.
    version = None if history else cache.knowledge_version(creator.id, persona)
    answer = compose(creator, persona, text, history, memories, on_token, cache_version=version)
    if answer.faq_entry is not None:
        faq.record_hit(answer.faq_entry)
    if answer.escalation:
        conversation.status = ConversationStatus.WAITING
        conversation.escalation_reason = answer.escalation
    elif version and not answer.cached and cache.cacheable(answer.answer_mode, persona) and not memories:
        # Only answers whose prompt held nothing personal are kept for others.
        cache.store(creator.id, text, version, **answer_fields(answer))
    return services.add_message(conversation, "ai", **answer_fields(answer), cached_response=answer.cached)


def compose(
    creator: Creator,
    persona: AIPersona,
    text: str,
    history: list[Message] | None = None,
    memories: list | None = None,
    on_token=None,
    cache_version: str | None = None,
) -> Answer:
    """The answer to `text` from the creator's rules, FAQ, cache and knowledge (no conversation needed).

    Streams through `on_token` as it goes. The response cache is read only when
    `cache_version` is given (a context-free question); warming calls this with
    no history and stores the result itself.
    """
    topic = prohibited_topic(text, persona.prohibited_topics)
    if topic:
        return _streamed_whole(_fallback(persona, f"prohibited topic: {topic}"), on_token)
    matched = faq.match(creator.id, text)
    if matched is not None:
        return _streamed_whole(_faq_answer(matched), on_token)
    cached = cache.lookup(creator.id, text, cache_version) if cache_version else None
    if cached is not None:
        answer = Answer(cached.answer, cached.answer_mode, cached.sources, cached.confidence, cached.model)
        answer.cached = True
        return _streamed_whole(answer, on_token)
    hits = search.search(creator.id, text, limit=PASSAGES)
    confidence = round(max(hits[0].dense_score or 0.0, 0.0), 3) if hits else 0.0
    if confidence < persona.confidence_threshold:
        return _streamed_whole(_fallback(persona, "low confidence", confidence), on_token)
    sources = [_source(hit) for hit in hits[:3] if hit.score >= SOURCE_FLOOR * hits[0].score]
    messages = prompt.build_messages(
        persona, creator.company_name or creator.full_name, history or [], hits, memories or [], text
    )
    try:
        content = "".join(_streamed(stream_chat(persona.model, messages, persona.max_response_tokens), on_token))
        return Answer(content, "llm", sources, confidence, persona.model)
    except LLMUnavailable as error:
        log.info("answering extractively", extra={"reason": str(error)})
    if not hits:  # a threshold of 0 lets a question through with nothing to quote from
        return _streamed_whole(_fallback(persona, "no knowledge to answer from", confidence), on_token)
    content = extractive_answer(text, hits, hits[0].document.knowledge_base.embedding_model)
    return _streamed_whole(Answer(content, "extractive", sources, confidence, "extractive"), on_token)


def answer_fields(answer: Answer) -> dict:
    return {
        "content": answer.content,
        "answer_mode": answer.answer_mode,
        "sources": answer.sources,
        "confidence": answer.confidence,
        "model": answer.model,
    }


def _fallback(persona: AIPersona, reason: str, confidence: float | None = None) -> Answer:
    """The creator's fallback message; the conversation is escalated to a human."""
    return Answer(persona.fallback_message, "fallback", confidence=confidence, escalation=reason)


def _faq_answer(matched) -> Answer:
    entry = matched.entry
    source = {
        "type": "faq",
        "faq_id": str(entry.id),
        "document_title": "FAQ",
        "section": entry.question,
        "score": matched.similarity,
        "snippet": entry.answer[:300],
    }
    return Answer(entry.answer, "faq", [source], matched.similarity, "faq", faq_entry=entry)


def _streamed_whole(answer: Answer, on_token) -> Answer:
    if on_token:
        on_token(answer.content)
    return answer


def _streamed(pieces, on_token):
    for piece in pieces:
        if on_token:
            on_token(piece)
        yield piece


def _say(conversation, answer: Answer, on_token, **extra) -> Message:
    _streamed_whole(answer, on_token)
    return services.add_message(conversation, "ai", **answer_fields(answer), **extra)


def _source(hit) -> dict:
    return {
        "type": "document",
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
