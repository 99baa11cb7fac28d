"""Retrieval quality on the Python FAQ: our hybrid search against three baselines.

    .venv/bin/python -m bench.retrieval_quality      (needs: apt-get install python3.11-doc)

Baselines work on fixed-size chunks (1000 characters, 200 overlap) of each
page's plain text: plain BM25 (rank_bm25), plain dense search (the same
MiniLM model, cosine) and plain reciprocal-rank fusion of the two (k=60).
"Creator Hub" is the product itself: the pages are uploaded as HTML into a
knowledge base, ingested by the real job (unstructured parsing,
structure-aware chunks, embeddings, Chroma, full-text index) and searched
with the hybrid search the API serves. Everything runs in one process, one run.
"""

import os
import re
import sys
import tempfile
import time

import numpy as np
from lxml import html as lxml_html
from rank_bm25 import BM25Okapi

from bench.faq_corpus import Corpus, is_hit, load

CHUNK, OVERLAP, K = 1000, 200, 5
TOKEN = re.compile(r"\w+")


def fixed_chunks(corpus: Corpus) -> list[str]:
    chunks = []
    for page in corpus.pages.values():
        text = re.sub(r"\s+", " ", lxml_html.fromstring(page).text_content()).strip()
        step = CHUNK - OVERLAP
        chunks += [text[i : i + CHUNK] for i in range(0, max(len(text) - OVERLAP, 1), step)]
    return chunks


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def rrf(*rankings: list[int], k: int = 60) -> list[int]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, index in enumerate(ranking):
            scores[index] = scores.get(index, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores, key=scores.get, reverse=True)


def evaluate(name: str, corpus: Corpus, ranked_passages) -> dict:
    """ranked_passages(question_text) -> list of passage texts, best first."""
    hit1 = hit5 = 0
    started = time.perf_counter()
    for question in corpus.questions:
        passages = ranked_passages(question.text)[:K]
        hits = [is_hit(p, question) for p in passages]
        hit1 += bool(hits[:1] and hits[0])
        hit5 += any(hits)
    n = len(corpus.questions)
    return {
        "system": name,
        "hit@1": hit1 / n,
        "hit@5": hit5 / n,
        "ms_per_query": (time.perf_counter() - started) * 1000 / n,
    }


def baselines(corpus: Corpus, embedder) -> list[dict]:
    chunks = fixed_chunks(corpus)
    bm25 = BM25Okapi([tokens(c) for c in chunks])
    matrix = np.asarray(embedder.embed_documents(chunks), dtype=np.float32)

    def bm25_rank(query):
        return list(np.argsort(-bm25.get_scores(tokens(query)))[:50])

    def dense_rank(query):
        return list(np.argsort(-(matrix @ np.asarray(embedder.embed_query(query), dtype=np.float32)))[:50])

    return [
        evaluate("BM25, fixed 1000/200 chunks", corpus, lambda q: [chunks[i] for i in bm25_rank(q)]),
        evaluate("dense MiniLM, fixed chunks", corpus, lambda q: [chunks[i] for i in dense_rank(q)]),
        evaluate(
            "RRF(BM25, dense), fixed chunks", corpus, lambda q: [chunks[i] for i in rrf(bm25_rank(q), dense_rank(q))]
        ),
    ], len(chunks)


def creator_hub(corpus: Corpus):
    """Ingest through the real product and search with the API's search service."""
    from app import create_app
    from app.auth.services import register_creator
    from app.extensions import db
    from app.jobs import run_pending_jobs
    from app.knowledge import search, services

    app = create_app({"RATELIMIT_ENABLED": False})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        owner = register_creator("bench@example.com", "bench-password-1", "Bench")
        size = int(os.environ.get("BENCH_CHUNK_SIZE", CHUNK))
        kb = services.create_knowledge_base(
            owner.creator_id, "Python FAQ", settings={"chunk_size": size, "chunk_overlap": min(OVERLAP, size // 4)}
        )
        for name, page in corpus.pages.items():
            services.add_upload(kb, f"{name}.html", page)
        started = time.perf_counter()
        run_pending_jobs(app)
        ingest_seconds = time.perf_counter() - started
        db.session.refresh(kb)
        chunk_count = sum(d.chunk_count for d in kb.documents)
        failed = [d.title for d in kb.documents if d.processing_status != "completed"]
        if failed:
            raise SystemExit(f"ingestion failed for {failed}")
        if os.environ.get("BENCH_KEYWORD_WEIGHT"):
            search.KEYWORD_WEIGHT = float(os.environ["BENCH_KEYWORD_WEIGHT"])
        result = evaluate(
            "Creator Hub hybrid search",
            corpus,
            lambda q: [hit.chunk.content for hit in search.search(owner.creator_id, q, [kb.id], K)],
        )
    return result, chunk_count, ingest_seconds


def main() -> int:
    os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="bench-retrieval-"))
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    corpus = load()
    ours, our_chunks, ingest_seconds = creator_hub(corpus)
    from app.knowledge.embeddings import LocalMiniLMEmbedder

    embedder = LocalMiniLMEmbedder(cache_dir=os.path.join(os.environ["INSTANCE_PATH"], "models"))
    results, fixed_count = baselines(corpus, embedder)
    results.append(ours)
    print(
        f"Python FAQ: {len(corpus.questions)} questions, {len(corpus.pages)} pages; "
        f"{fixed_count} fixed chunks, {our_chunks} Creator Hub chunks (ingested in {ingest_seconds:.1f} s)"
    )
    best = max(r["hit@5"] for r in results[:3])
    print(f"{'system':34} {'hit@1':>6} {'hit@5':>6} {'hit@5 / best baseline':>22} {'ms/query':>9}")
    for r in results:
        print(
            f"{r['system']:34} {r['hit@1']:6.3f} {r['hit@5']:6.3f} {r['hit@5'] / best:22.2f} {r['ms_per_query']:9.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
