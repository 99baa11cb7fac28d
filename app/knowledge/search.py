"""Hybrid retrieval: dense (Chroma) and keyword (full-text) candidates, fused.

Plain reciprocal-rank fusion throws the scores away. Here every candidate of
either side gets both scores (its cosine similarity to the query, fetched
from Chroma for keyword-only candidates, and its keyword score normalized to
the best of the query), and the fused score is a weighted sum, so a passage
that is both semantically close and shares the rare words wins.
"""

import html
import logging
import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select

from app.extensions import db
from app.knowledge import keyword, vectors
from app.knowledge.embeddings import EmbeddingError, get_embedder
from app.models import Chunk, Document, KnowledgeBase

log = logging.getLogger(__name__)

CANDIDATES = 50  # per side
KEYWORD_WEIGHT = 0.35  # weight of the normalized keyword score next to cosine similarity


@dataclass
class Hit:
    chunk: Chunk
    document: Document
    score: float
    dense_score: float | None = None
    keyword_score: float | None = None
    highlight: str = ""
    matched_terms: list[str] = field(default_factory=list)


def search(creator_id: uuid.UUID, query: str, kb_ids: list[uuid.UUID] | None = None, limit: int = 10) -> list[Hit]:
    """Search the creator's knowledge bases (all, or `kb_ids`, which must be theirs)."""
    every_kb = _knowledge_bases(creator_id)
    bases = every_kb if kb_ids is None else [kb for kb in every_kb if kb.id in set(kb_ids)]
    if not bases or not query.strip():
        return []
    ids = [kb.id for kb in bases]
    sparse = {hit.chunk_id: hit.score for hit in keyword.search(creator_id, ids, query, CANDIDATES)}
    dense = _dense_scores(
        creator_id, _query_vectors(bases, query), set(sparse), _models_searched_whole(bases, every_kb)
    )
    fused = fuse(dense, sparse)
    top = sorted(fused.items(), key=lambda item: item[1], reverse=True)[:limit]
    return _hydrate(creator_id, top, dense, sparse, query)


def fuse(dense: dict[uuid.UUID, float], sparse: dict[uuid.UUID, float]) -> dict[uuid.UUID, float]:
    best_keyword = max(sparse.values(), default=0.0) or 1.0
    candidates = set(dense) | set(sparse)
    return {
        chunk_id: dense.get(chunk_id, 0.0) + KEYWORD_WEIGHT * (sparse.get(chunk_id, 0.0) / best_keyword)
        for chunk_id in candidates
    }


def _knowledge_bases(creator_id) -> list[KnowledgeBase]:
    return list(db.session.scalars(select(KnowledgeBase).where(KnowledgeBase.creator_id == creator_id)))


def _models_searched_whole(bases, every_kb) -> set[str]:
    """Models whose every knowledge base is searched: their collection needs no KB filter."""
    searched = {kb.id for kb in bases}
    return {kb.embedding_model for kb in bases} - {kb.embedding_model for kb in every_kb if kb.id not in searched}


def _query_vectors(bases: list[KnowledgeBase], query: str) -> dict[str, tuple[list[float], list[uuid.UUID]]]:
    """The query embedded once per embedding model in use, with that model's KBs."""
    by_model: dict[str, list[uuid.UUID]] = {}
    for kb in bases:
        by_model.setdefault(kb.embedding_model, []).append(kb.id)
    vectors_by_model = {}
    for model, ids in by_model.items():
        try:
            vectors_by_model[model] = (get_embedder(model).embed_query(query), ids)
        except EmbeddingError as error:  # Ollama down: those bases are searched by keyword only
            log.warning("query not embedded; keyword search only", extra={"model": model, "reason": str(error)})
    return vectors_by_model


def _dense_scores(creator_id, query_vectors, keyword_ids: set[uuid.UUID], whole_models: set[str]) -> dict:
    """Cosine similarity of every candidate: the dense top-k, plus keyword-only ones."""
    scores: dict[uuid.UUID, float] = {}
    for model, (vector, kb_ids) in query_vectors.items():
        for hit in vectors.query(creator_id, model, kb_ids, vector, CANDIDATES, all_kbs=model in whole_models):
            scores[hit.chunk_id] = hit.similarity
        missing = [chunk_id for chunk_id in keyword_ids if chunk_id not in scores]
        scores.update(vectors.similarities(creator_id, model, missing, vector))
    return scores


def _hydrate(creator_id, ranked, dense, sparse, query) -> list[Hit]:
    ids = [chunk_id for chunk_id, _ in ranked]
    rows = db.session.execute(
        select(Chunk, Document)
        .join(Document, Document.id == Chunk.document_id)
        .where(Chunk.id.in_(ids), Chunk.creator_id == creator_id)
    ).all()
    by_id = {chunk.id: (chunk, document) for chunk, document in rows}
    terms = keyword.query_terms(query)
    hits = []
    for chunk_id, score in ranked:
        if chunk_id not in by_id:  # vector of a chunk deleted meanwhile
            continue
        chunk, document = by_id[chunk_id]
        text, matched = highlight(chunk.content, terms)
        hits.append(
            Hit(
                chunk,
                document,
                round(score, 4),
                _round(dense.get(chunk_id)),
                _round(sparse.get(chunk_id)),
                text,
                matched,
            )
        )
    return hits


def _round(value):
    return None if value is None else round(float(value), 4)


def highlight(content: str, terms: list[str], width: int = 400) -> tuple[str, list[str]]:
    """An HTML-escaped snippet of `content` with query terms wrapped in <mark>.

    The text is escaped first, so passage text can never inject markup; only
    the <mark> tags added here are HTML.
    """
    stems = [re.escape(t[:6]) for t in terms if len(t) >= 3]
    # Not right after "&" or "&#": the text is matched after escaping, and entities must stay whole.
    pattern = re.compile(r"(?<!&)(?<!&#)\b(" + "|".join(stems) + r")\w*", re.IGNORECASE) if stems else None
    start = 0
    if pattern and len(content) > width:
        first = pattern.search(content)
        start = max(0, first.start() - width // 4) if first else 0
    snippet = content[start : start + width]
    prefix, suffix = ("…" if start > 0 else ""), ("…" if start + width < len(content) else "")
    escaped = html.escape(snippet)
    if not pattern:
        return prefix + escaped + suffix, []
    matched = sorted({m.group(0).lower() for m in pattern.finditer(snippet)})
    return prefix + pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped) + suffix, matched
