"""FAQ entries: written by the creator or suggested from frequent questions,
matched against what end users ask so a published entry answers instantly.

Matching is by meaning: the question and each variant are embedded with the
local model when the entry is saved, and a message matches when it is close
enough to any of them (FAQ_MATCH_THRESHOLD), or is the same text.
"""

import re
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from flask import current_app
from sqlalchemy import select

from app.api.errors import ApiError
from app.extensions import db
from app.knowledge.embeddings import LOCAL_MODEL, get_embedder
from app.models import Conversation, Creator, FaqEntry, FaqStatus, Message
from app.models.base import utcnow
from app.tenancy import get_for_creator

MAX_VARIANTS = 20
SAME_QUESTION = 0.78  # two phrasings this close (cosine) are one question when extracting
EXTRACT_WINDOW = 5000  # most recent user messages looked at
ANSWERED = ("llm", "extractive", "faq")  # AI answers that answered (not the fallback)
_PUNCTUATION = re.compile(r"[^\w\s]")


@dataclass
class FaqMatch:
    entry: FaqEntry
    similarity: float


def normalize_question(text: str) -> str:
    """Lower case, no punctuation, single spaces: how two askings of one question compare."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_PUNCTUATION.sub(" ", text).split())


def _unit_rows(texts: list[str]) -> np.ndarray:
    vectors = np.asarray(get_embedder(LOCAL_MODEL).embed_documents(texts), dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _phrasings(entry: FaqEntry) -> list[str]:
    return [entry.question, *entry.question_variants]


# --- Entries ---------------------------------------------------------------------


def list_entries(creator_id: uuid.UUID, status: str | None = None, search: str | None = None):
    query = select(FaqEntry).where(FaqEntry.creator_id == creator_id)
    if status:
        query = query.where(FaqEntry.status == status)
    if search:
        like = f"%{search.strip()}%"
        query = query.where(FaqEntry.question.ilike(like) | FaqEntry.answer.ilike(like))
    return query.order_by(FaqEntry.status.desc(), FaqEntry.hits.desc(), FaqEntry.created_at.desc())


def get_entry(creator_id: uuid.UUID, entry_id: uuid.UUID) -> FaqEntry:
    return get_for_creator(FaqEntry, creator_id, entry_id, "FAQ entry")


def clean_variants(question: str, variants: list[str]) -> list[str]:
    """Trimmed, without repeats of the question or of each other, order kept."""
    seen = {normalize_question(question)}
    kept = []
    for variant in variants:
        variant = variant.strip()
        key = normalize_question(variant)
        if key and key not in seen:
            seen.add(key)
            kept.append(variant)
    return kept[:MAX_VARIANTS]


def save_entry(creator_id: uuid.UUID, data: dict, entry: FaqEntry | None = None) -> FaqEntry:
    """Create or update an entry from validated fields; re-embeds its phrasings."""
    if entry is None:
        entry = FaqEntry(creator_id=creator_id, source="manual", status=FaqStatus.PUBLISHED)
        db.session.add(entry)
    for field in ("question", "answer", "category", "status"):
        if field in data:
            setattr(entry, field, data[field].strip() if isinstance(data[field], str) else data[field])
    if "question_variants" in data or "question" in data:
        entry.question_variants = clean_variants(entry.question, data.get("question_variants", entry.question_variants))
    if entry.status == FaqStatus.PUBLISHED and not (entry.answer or "").strip():
        db.session.rollback()
        raise ApiError(
            422,
            "A published FAQ entry needs an answer.",
            details=[{"field": "answer", "message": "Required to publish."}],
        )
    entry.embeddings = _unit_rows(_phrasings(entry)).tobytes()
    if entry.status == FaqStatus.PUBLISHED:
        _refuse_duplicate(creator_id, entry)
    db.session.commit()
    return entry


def _refuse_duplicate(creator_id: uuid.UUID, entry: FaqEntry) -> None:
    """409 naming the other published entry that one of `entry`'s phrasings already asks: two
    published answers to one question would contradict each other, and only one would ever match."""
    # Two saves at once are checked one after the other: the flush's write holds off the other on
    # SQLite, the creator's row lock on PostgreSQL; the second then sees the first entry.
    db.session.flush()
    db.session.get(Creator, creator_id, with_for_update=True)
    others = db.session.scalars(
        select(FaqEntry).where(
            FaqEntry.creator_id == creator_id, FaqEntry.status == FaqStatus.PUBLISHED, FaqEntry.id != entry.id
        )
    )
    taken = {normalize_question(p): other for other in others for p in _phrasings(other)}
    asked = [("question", entry.question)] + [("question_variants", v) for v in entry.question_variants]
    for field, phrasing in asked:
        other = taken.get(normalize_question(phrasing))
        if other is not None:
            db.session.rollback()
            message = (
                f"“{phrasing}” is already answered by the published entry “{other.question}”: "
                "edit that entry, or keep this one as a draft."
            )
            raise ApiError(409, message, details=[{"field": field, "message": message, "faq_id": str(other.id)}])


def delete_entry(entry: FaqEntry) -> None:
    db.session.delete(entry)
    db.session.commit()


# --- Matching --------------------------------------------------------------------


def match(creator_id: uuid.UUID, text: str) -> FaqMatch | None:
    """The published entry this message asks, if one is close enough."""
    entries = db.session.scalars(
        select(FaqEntry).where(
            FaqEntry.creator_id == creator_id, FaqEntry.status == FaqStatus.PUBLISHED, FaqEntry.embeddings.is_not(None)
        )
    ).all()
    if not entries:
        return None
    asked = normalize_question(text)
    for entry in entries:
        if asked in {normalize_question(p) for p in _phrasings(entry)}:
            return FaqMatch(entry, 1.0)
    query = _unit_rows([text])[0]
    best, best_similarity = None, -1.0
    for entry in entries:
        similarity = float(np.max(np.frombuffer(entry.embeddings, dtype=np.float32).reshape(-1, query.size) @ query))
        if similarity > best_similarity:
            best, best_similarity = entry, similarity
    if best_similarity < current_app.config["FAQ_MATCH_THRESHOLD"]:
        return None
    return FaqMatch(best, round(best_similarity, 3))


def record_hit(entry: FaqEntry) -> None:
    entry.hits = (entry.hits or 0) + 1
    entry.last_hit_at = utcnow()


# --- Extraction from conversations -----------------------------------------------------


@dataclass
class _Cluster:
    vector: np.ndarray
    phrasings: Counter
    similarities: list[float]
    message_ids: list[uuid.UUID]


def extract(creator_id: uuid.UUID, min_frequency: int, max_results: int, days: int) -> list[FaqEntry]:
    """Turn questions asked at least `min_frequency` times into draft entries for review.

    Phrasings are grouped by meaning; each group's most common phrasing becomes
    the question and the others its variants. The answer is the best reply the
    question got (an agent's first, else the most confident AI answer); a
    question nobody could answer becomes a draft with an empty answer, which is
    exactly the gap the creator should fill. Questions an entry already covers
    are skipped.
    """
    asked = _recent_questions(creator_id, days)
    if not asked:
        return []
    clusters = _cluster(asked)
    frequent = [c for c in clusters if sum(c.phrasings.values()) >= min_frequency]
    frequent.sort(key=lambda c: sum(c.phrasings.values()), reverse=True)
    replies = _replies_to(creator_id, [mid for c in frequent for mid in c.message_ids])
    created = []
    for cluster in frequent:
        if len(created) >= max_results:
            break
        question = cluster.phrasings.most_common(1)[0][0]
        if match(creator_id, question) is not None or _draft_exists(creator_id, question):
            continue
        entry = FaqEntry(
            creator_id=creator_id,
            question=question,
            answer=_best_answer([replies[m] for m in cluster.message_ids if m in replies]),
            question_variants=clean_variants(question, [p for p, _ in cluster.phrasings.most_common()[1:]]),
            status=FaqStatus.DRAFT,
            source="extracted",
            frequency=sum(cluster.phrasings.values()),
            confidence=round(float(np.mean(cluster.similarities)), 3),
        )
        entry.embeddings = _unit_rows(_phrasings(entry)).tobytes()
        db.session.add(entry)
        created.append(entry)
    db.session.commit()
    return created


def _recent_questions(creator_id: uuid.UUID, days: int) -> list[tuple[uuid.UUID, str]]:
    since = utcnow() - timedelta(days=days)
    rows = db.session.execute(
        select(Message.id, Message.content)
        .where(Message.creator_id == creator_id, Message.sender == "user", Message.created_at >= since)
        .order_by(Message.created_at.desc())
        .limit(EXTRACT_WINDOW)
    ).all()
    return [(row.id, row.content.strip()) for row in rows if 3 <= len(row.content.strip()) <= 300]


def _cluster(asked: list[tuple[uuid.UUID, str]]) -> list[_Cluster]:
    """Greedy grouping by meaning, most asked phrasing first; each text is embedded once."""
    by_text: dict[str, list] = {}
    for message_id, content in asked:
        by_text.setdefault(normalize_question(content), []).append((message_id, content))
    texts = sorted(by_text, key=lambda key: len(by_text[key]), reverse=True)
    vectors = _unit_rows([by_text[key][0][1] for key in texts])
    clusters: list[_Cluster] = []
    for key, vector in zip(texts, vectors, strict=True):
        group = by_text[key]
        similarities = [float(c.vector @ vector) for c in clusters]
        best = int(np.argmax(similarities)) if similarities else -1
        if best >= 0 and similarities[best] >= SAME_QUESTION:
            cluster = clusters[best]
        else:
            cluster = _Cluster(vector, Counter(), [], [])
            clusters.append(cluster)
            similarities = [*similarities, 1.0]
            best = len(clusters) - 1
        cluster.phrasings[_best_spelling([content for _, content in group])] += len(group)
        cluster.similarities.extend([similarities[best]] * len(group))
        cluster.message_ids.extend(message_id for message_id, _ in group)
    return clusters


def _best_spelling(texts: list[str]) -> str:
    """Of one question's spellings, the most used; on a tie the one written as a question."""
    counts = Counter(texts)
    return max(counts, key=lambda t: (counts[t], t[:1].isupper(), t.endswith("?")))


def _replies_to(creator_id: uuid.UUID, message_ids: list[uuid.UUID]) -> dict[uuid.UUID, Message]:
    """For each user message, the answer it got: the next agent or answering AI message before another question."""
    if not message_ids:
        return {}
    asked = db.session.execute(
        select(Message.id, Message.conversation_id, Message.created_at).where(
            Message.creator_id == creator_id, Message.id.in_(message_ids)
        )
    ).all()
    conversation_ids = {row.conversation_id for row in asked}
    later = db.session.scalars(
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.creator_id == creator_id,
            Message.conversation_id.in_(conversation_ids),
            Message.sender.in_(["ai", "agent", "user"]),
        )
        .order_by(Message.conversation_id, Message.created_at)
    ).all()
    following: dict[uuid.UUID, list[Message]] = {}
    for message in later:
        following.setdefault(message.conversation_id, []).append(message)
    replies = {}
    for row in asked:
        for message in following.get(row.conversation_id, []):
            if message.created_at <= row.created_at or message.id == row.id:
                continue
            if message.sender == "user":  # asked something else before anyone answered
                break
            if message.sender == "agent" or message.answer_mode in ANSWERED:  # not the fallback
                replies[row.id] = message
                break
    return replies


def _best_answer(replies: list[Message]) -> str:
    agent = [m for m in replies if m.sender == "agent"]
    if agent:
        return agent[-1].content
    answered = [m for m in replies if m.answer_mode in ANSWERED]
    if not answered:
        return ""
    return max(answered, key=lambda m: m.confidence or 0.0).content


def _draft_exists(creator_id: uuid.UUID, question: str) -> bool:
    key = normalize_question(question)
    drafts = db.session.scalars(
        select(FaqEntry.question).where(FaqEntry.creator_id == creator_id, FaqEntry.status == FaqStatus.DRAFT)
    )
    return any(normalize_question(q) == key for q in drafts)
