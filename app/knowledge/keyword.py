"""Keyword (BM25-style) search over chunks with the database's full-text engine.

PostgreSQL: the generated `search_vector` column (GIN index) and ts_rank_cd.
SQLite: the FTS5 table `chunks_fts` and its bm25() ranking. Both built in
migration 0002. Terms are OR-ed: a question rarely contains every word of
the passage that answers it, and ranking already rewards matching more.
"""

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, text

from app.extensions import db

# Words that carry no topic; dropping them keeps OR-queries from matching everything.
STOPWORDS = frozenset(
    "a an and are as at be but by can could do does did for from has have how i if in into is it its me my "
    "no not of on or our she he so that the their them there these they this to was we were what when where "
    "which who why will with would you your yours".split()
)
TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass
class KeywordHit:
    chunk_id: uuid.UUID
    score: float  # higher is better


def query_terms(query: str, limit: int = 32) -> list[str]:
    terms = [t.lower() for t in TOKEN.findall(query)]
    kept = [t for t in terms if t not in STOPWORDS and len(t) > 1] or terms
    return list(dict.fromkeys(kept))[:limit]


def search(creator_id: uuid.UUID, kb_ids: list[uuid.UUID], query: str, limit: int) -> list[KeywordHit]:
    terms = query_terms(query)
    if not terms or not kb_ids:
        return []
    if db.engine.dialect.name == "postgresql":
        return _search_postgres(creator_id, kb_ids, terms, limit)
    return _search_sqlite(creator_id, kb_ids, terms, limit)


def _search_postgres(creator_id, kb_ids, terms, limit) -> list[KeywordHit]:
    statement = text(
        "SELECT c.id, ts_rank_cd(c.search_vector, q, 32) AS score "
        "FROM chunks c, to_tsquery('english', :tsquery) q "
        "WHERE c.creator_id = :creator_id AND c.knowledge_base_id IN :kb_ids AND c.search_vector @@ q "
        "ORDER BY score DESC LIMIT :limit"
    ).bindparams(bindparam("kb_ids", expanding=True))
    # Each term is letters/digits only (TOKEN), so it is safe inside to_tsquery.
    rows = db.session.execute(
        statement,
        {
            "tsquery": " | ".join(terms),
            "creator_id": creator_id,
            "kb_ids": list(kb_ids),
            "limit": limit,
        },
    )
    return [KeywordHit(_as_uuid(row.id), float(row.score)) for row in rows]


def _search_sqlite(creator_id, kb_ids, terms, limit) -> list[KeywordHit]:
    statement = text(
        "SELECT c.id, bm25(chunks_fts, 2.0, 1.0) AS rank FROM chunks_fts "
        "JOIN chunks c ON c.rowid = chunks_fts.rowid "
        "WHERE chunks_fts MATCH :match AND c.creator_id = :creator_id AND c.knowledge_base_id IN :kb_ids "
        "ORDER BY rank LIMIT :limit"
    ).bindparams(bindparam("kb_ids", expanding=True))
    match = " OR ".join(f'"{term}"' for term in terms)  # quoted: FTS5 syntax in user text is inert
    rows = db.session.execute(
        statement,
        {
            "match": match,
            "creator_id": creator_id.hex,
            "kb_ids": [k.hex for k in kb_ids],
            "limit": limit,
        },
    )
    # FTS5's bm25() is lower-is-better; flip it so every backend scores higher-is-better.
    return [KeywordHit(_as_uuid(row.id), -float(row.rank)) for row in rows]


def _as_uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
