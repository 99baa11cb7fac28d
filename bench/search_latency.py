"""Search latency through the HTTP API at 10k and 100k chunks, against numpy brute force.

    .venv/bin/python -m bench.search_latency      (needs: apt-get install python3.11-doc)

This measures speed, not quality: THE INDEX VECTORS ARE SYNTHETIC. Embedding
100k real chunks with the local model (~30 chunks/s on 2 cores) would take an
hour, so:

- chunk TEXTS are real: runs of consecutive sentences (300-1000 characters)
  sampled from the Python documentation (python3.11-doc HTML, text extracted
  with lxml), each with its "page > section" heading, so the full-text index
  holds realistic text and realistic term statistics;
- chunk VECTORS are made up: a pool of real sentences from the same pages is
  embedded with the local all-MiniLM-L6-v2 (LocalMiniLMEmbedder), and each
  chunk's vector is a random convex mix of 3 pool vectors plus a little
  Gaussian noise, L2-normalized. They have the model's geometry, not the
  chunk's meaning. One vector per chunk (the ingestion job may store several
  windows per chunk).

Rows go in directly: KnowledgeBase through the service, Document and Chunk
rows with SQLAlchemy bulk INSERTs (the full-text index fills through its
triggers on SQLite / the generated column on PostgreSQL), vectors through
app.knowledge.vectors.upsert with the metadata the ingestion job writes
(document_id, knowledge_base_id, chunk_id, chunk_index; upsert adds creator_id).

Creator Hub: the app (SQLite + fakeredis on a temporary instance, or
DATABASE_URL / REDIS_URL when set; rate limits off) is served by werkzeug's
make_server in a thread; one client sends N sequential
POST /api/v1/knowledge-bases/{id}/search {"query", "limit": 10} with urllib
and times each round trip. Queries: the Python FAQ questions (bench/faq_corpus.py),
cycled to N. The stages of each search are timed by wrapping the functions
search() calls, in this process (the server runs in it): query embedding,
Chroma top-k, Chroma fetch of keyword-only candidates, full-text query,
hydration (rows + highlight); what remains of the round trip is HTTP, auth,
validation and JSON.

Baseline, same run, same vectors, same queries: numpy brute force, cosine =
matrix @ query over every chunk vector, np.argpartition top-10, sorted. The
query embedding is INCLUDED in the baseline (the same MiniLM call the API
makes per query), so the ratio compares two complete query paths; the
top-10 alone is shown too. The same index is measured at 10k chunks, then
grown to 100k and measured again.
"""

import functools
import json
import os
import random
import re
import sys
import threading
import time
import urllib.request
import uuid
from collections import defaultdict
from pathlib import Path

import numpy as np
from lxml import html as lxml_html

from bench.common import in_instance

PY_DOCS = Path("/usr/share/doc/python3.11/html")
SIZES = tuple(int(n) for n in os.environ.get("BENCH_SIZES", "10000,100000").split(","))
N_QUERIES = int(os.environ.get("BENCH_QUERIES", 200))
WARMUP = 10
POOL = 3000  # real sentences embedded for the synthetic vectors
MIX = 3  # pool vectors per chunk vector
NOISE = 0.01  # per-dimension Gaussian noise before normalizing
CHUNKS_PER_DOCUMENT = 50
BATCH = 5000
TOP_K = 10
SEED = 20240611
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(`])")


# --- real text -------------------------------------------------------------------------


def load_sections() -> list[tuple[str, list[str]]]:
    """(heading path, sentences) for every section of every page of the Python docs."""
    if not PY_DOCS.exists():
        raise SystemExit(f"{PY_DOCS} is missing: apt-get install python3.11-doc")
    sections = []
    for path in sorted(PY_DOCS.rglob("*.html")):
        if path.parts[len(PY_DOCS.parts)] in ("_static", "_sources", "_images", "_downloads"):
            continue
        mains = lxml_html.parse(str(path)).xpath("//div[@role='main']")
        if not mains:
            continue
        title, heading, sentences = path.stem, "", []
        for element in mains[0].iter("h1", "h2", "h3", "p"):
            text = " ".join(element.text_content().replace("¶", "").split())
            if element.tag == "p":
                sentences += [s for s in SENTENCE_END.split(text) if 20 <= len(s) <= 600]
                continue
            if len(sentences) >= 2:
                sections.append((f"{title} > {heading}" if heading else title, sentences))
            sentences = []
            if element.tag == "h1":
                title, heading = text, ""
            else:
                heading = text
        if len(sentences) >= 2:
            sections.append((f"{title} > {heading}" if heading else title, sentences))
    return sections


def make_chunk_text(rng: random.Random, sections) -> tuple[str, str]:
    """Consecutive sentences of one section, 300-1000 characters (fewer if the section is short)."""
    section, sentences = sections[rng.randrange(len(sections))]
    target = rng.randint(300, 1000)
    start = rng.randrange(len(sentences))
    parts, length = [], 0
    for sentence in sentences[start:] + sentences[:start]:
        if parts and length + 1 + len(sentence) > target:
            break
        parts.append(sentence)
        length += len(sentence) + 1
    return " ".join(parts)[:1000], section[:500]


def synthetic_vectors(rng: np.random.Generator, pool: np.ndarray, count: int) -> np.ndarray:
    picks = rng.integers(0, len(pool), size=(count, MIX))
    weights = rng.dirichlet(np.ones(MIX), size=count).astype(np.float32)
    vectors = np.einsum("nk,nkd->nd", weights, pool[picks])
    vectors += rng.normal(0, NOISE, size=vectors.shape).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


# --- stage timing ---------------------------------------------------------------------------


class Stages:
    """Per-request wall time of wrapped functions (requests are sequential)."""

    def __init__(self):
        self.requests: list[dict[str, float]] = []
        self.current: dict[str, float] | None = None
        self._undo = []

    def begin(self):
        self.current = defaultdict(float)
        self.requests.append(self.current)

    def wrap(self, owner, attribute: str, stage: str):
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if self.current is not None:
                    self.current[stage] += time.perf_counter() - started

        setattr(owner, attribute, timed)
        self._undo.append(lambda: setattr(owner, attribute, original))

    def median_ms(self, stage: str) -> float:
        return float(np.median([r.get(stage, 0.0) for r in self.requests])) * 1000

    def restore(self):
        while self._undo:
            self._undo.pop()()


def percentiles(seconds: list[float]) -> tuple[float, float, float]:
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), float(ms.max())


# --- the benchmark -------------------------------------------------------------------------


class Bench:
    def __init__(self, instance: str):
        from flask_migrate import upgrade

        from app import create_app
        from app.auth.services import register_creator
        from app.extensions import db
        from app.knowledge import services

        self.app = create_app({"RATELIMIT_ENABLED": False})
        with self.app.app_context():
            upgrade()
            self.backend = db.engine.dialect.name
            self.owner = register_creator(f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench-password-1", "Bench")
            kb = services.create_knowledge_base(self.owner.creator_id, f"Search bench {uuid.uuid4().hex[:6]}")
            self.creator_id, self.kb_id, self.model = self.owner.creator_id, kb.id, kb.embedding_model
            self.owner_id = self.owner.id
        from app.knowledge.embeddings import LocalMiniLMEmbedder

        self.embedder = LocalMiniLMEmbedder(cache_dir=Path(instance) / "models")
        self.matrix = np.zeros((0, 384), np.float32)
        self.count = 0
        self.insert_seconds = {"rows": 0.0, "vectors": 0.0}

    def grow(self, target: int, sections, text_rng: random.Random, vector_rng: np.random.Generator, pool):
        from sqlalchemy import insert

        from app.extensions import db
        from app.knowledge import services, vectors
        from app.models import Chunk, Document, DocumentStatus
        from app.models.base import utcnow

        batches = []
        with self.app.app_context():
            while self.count < target:
                n = min(BATCH, target - self.count)
                documents, chunks, vector_ids, metadatas = [], [], [], []
                document_id = None
                for i in range(self.count, self.count + n):
                    index = i % CHUNKS_PER_DOCUMENT
                    if index == 0 or document_id is None:
                        document_id = uuid.UUID(int=text_rng.getrandbits(128), version=4)
                        documents.append(
                            {
                                "id": document_id,
                                "creator_id": self.creator_id,
                                "knowledge_base_id": self.kb_id,
                                "title": f"Python docs sample {i // CHUNKS_PER_DOCUMENT}",
                                "filename": f"sample-{i // CHUNKS_PER_DOCUMENT}.html",
                                "file_type": "html",
                                "file_size_bytes": 0,
                                "checksum": document_id.hex * 2,
                                "source": "upload",
                                "processing_status": DocumentStatus.COMPLETED,
                                "meta": {},
                                "chunk_count": CHUNKS_PER_DOCUMENT,
                                "embedding_model": self.model,
                                "indexed_settings_version": 1,
                                "attempts": 1,
                                "processed_at": utcnow(),
                            }
                        )
                    content, section = make_chunk_text(text_rng, sections)
                    chunk_id = Chunk.stable_id(document_id, index)
                    chunks.append(
                        {
                            "id": chunk_id,
                            "creator_id": self.creator_id,
                            "knowledge_base_id": self.kb_id,
                            "document_id": document_id,
                            "chunk_index": index,
                            "content": content,
                            "section": section,
                            "page": None,
                            "char_count": len(content),
                        }
                    )
                    vector_ids.append(vectors.probe_id(chunk_id, 0))
                    metadatas.append(
                        {
                            "document_id": str(document_id),
                            "knowledge_base_id": str(self.kb_id),
                            "chunk_id": str(chunk_id),
                            "chunk_index": index,
                        }
                    )
                batch = synthetic_vectors(vector_rng, pool, n)
                started = time.perf_counter()
                if documents:
                    db.session.execute(insert(Document), documents)
                db.session.execute(insert(Chunk), chunks)
                db.session.commit()
                self.insert_seconds["rows"] += time.perf_counter() - started
                started = time.perf_counter()
                vectors.upsert(self.creator_id, self.model, vector_ids, batch, metadatas)
                self.insert_seconds["vectors"] += time.perf_counter() - started
                batches.append(batch)
                self.count += n
            services.refresh_counts(self.kb_id)
        self.matrix = np.concatenate([self.matrix, *batches])

    def token(self) -> str:
        from app.auth.services import login_for_api
        from app.extensions import db
        from app.models import Member

        with self.app.app_context():
            member = db.session.get(Member, self.owner_id)
            return login_for_api(member, "bench", "127.0.0.1")["access_token"]

    def measure(self, base_url: str, queries: list[str], stages: Stages) -> dict[str, list[float]]:
        """Seconds per query, API and numpy interleaved (query i through both, then query i+1),
        so that anything else the machine does falls on both alike."""
        url = f"{base_url}/api/v1/knowledge-bases/{self.kb_id}/search"
        headers = {"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json"}
        matrix = self.matrix

        def call(query: str) -> dict:
            body = json.dumps({"query": query, "limit": TOP_K}).encode()
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())

        def brute_force(query: str) -> tuple[float, float]:
            started = time.perf_counter()
            vector = np.asarray(self.embedder.embed_query(query), dtype=np.float32)
            embedded = time.perf_counter()
            scores = matrix @ vector
            best = np.argpartition(-scores, TOP_K)[:TOP_K]
            best = best[np.argsort(-scores[best])]
            done = time.perf_counter()
            return done - started, done - embedded

        for query in queries[:WARMUP]:
            call(query)
            brute_force(query)
        stages.requests.clear()
        times: dict[str, list[float]] = defaultdict(list)
        for query in queries:
            stages.begin()
            started = time.perf_counter()
            answer = call(query)
            times["api"].append(time.perf_counter() - started)
            stages.current = None
            times["took"].append(answer["took_ms"] / 1000)
            if not answer["results"]:
                raise SystemExit(f"no results for {query!r}")
            total, topk = brute_force(query)
            times["numpy"].append(total)
            times["topk"].append(topk)
        return times


def serve(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def main() -> int:
    return in_instance(run, "bench-search-")


def run(instance: str) -> int:
    import logging

    from bench.faq_corpus import load

    started = time.perf_counter()
    sections = load_sections()
    sentence_count = sum(len(s) for _, s in sections)
    questions = [q.text for q in load().questions]
    queries = [questions[i % len(questions)] for i in range(N_QUERIES)]
    text_rng, vector_rng = random.Random(SEED), np.random.default_rng(SEED)
    all_sentences = [s for _, sentences in sections for s in sentences]
    pool_texts = text_rng.sample(all_sentences, min(POOL, len(all_sentences)))
    prepare_seconds = time.perf_counter() - started

    bench = Bench(instance)
    logging.getLogger("app").setLevel(logging.WARNING)  # one access-log line per request otherwise
    started = time.perf_counter()
    pool = np.asarray(bench.embedder.embed_documents(pool_texts), dtype=np.float32)
    pool_seconds = time.perf_counter() - started

    from app.knowledge import keyword, search, vectors

    stages = Stages()
    stages.wrap(search, "search", "search")
    stages.wrap(search, "_knowledge_bases", "kb")
    stages.wrap(search, "_query_vectors", "embed")
    stages.wrap(keyword, "search", "fts")
    stages.wrap(vectors, "query", "chroma_query")
    stages.wrap(vectors, "similarities", "chroma_get")
    stages.wrap(vectors, "_collection", "collection")
    from chromadb.api.models.Collection import Collection

    stages.wrap(Collection, "count", "count")
    stages.wrap(search, "_hydrate", "hydrate")
    server, base_url = serve(bench.app)
    results = {}
    try:
        for size in SIZES:
            started = time.perf_counter()
            bench.grow(size, sections, text_rng, vector_rng, pool)
            grow_seconds = time.perf_counter() - started
            times = bench.measure(base_url, queries, stages)
            api = times["api"]
            stage_ms = {
                name: stages.median_ms(name)
                for name in (
                    "search",
                    "kb",
                    "embed",
                    "fts",
                    "chroma_query",
                    "chroma_get",
                    "collection",
                    "count",
                    "hydrate",
                )
            }
            stage_ms["http"] = (
                float(np.median([rt - r.get("search", 0.0) for rt, r in zip(api, stages.requests, strict=True)])) * 1000
            )
            results[size] = {
                **{name: percentiles(seconds) for name, seconds in times.items()},
                "stages": stage_ms,
                "grow": grow_seconds,
            }
    finally:
        stages.restore()
        server.shutdown()

    print(
        f"Chunk texts: real Python-docs sentences ({sentence_count} sentences in {len(sections)} sections, "
        f"extracted in {prepare_seconds:.0f} s). VECTORS ARE SYNTHETIC (mixes of {len(pool)} embedded "
        f"real sentences, {pool_seconds:.0f} s): latency only, not quality."
    )
    chroma = f"Chroma server {bench.app.config['CHROMA_HOST']}" if bench.app.config["CHROMA_HOST"] else "Chroma local"
    print(
        f"Backend {bench.backend}, {chroma}; {N_QUERIES} queries ({len(set(queries))} distinct Python FAQ "
        f"questions), limit {TOP_K}, sequential, after {WARMUP} warm-up queries."
    )
    print(
        "Index: "
        + ", then ".join(f"{size:,} chunks after {r['grow']:.0f} s" for size, r in results.items())
        + f" ({bench.insert_seconds['rows']:.0f} s SQL rows + full-text, "
        f"{bench.insert_seconds['vectors']:.0f} s Chroma upsert in all)."
    )
    print("numpy baseline: matrix @ query + argpartition top-10 over all vectors; query embedding included.")
    print()
    print(f"{'chunks':>8}  {'system':44} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'p50 / numpy p50':>16}")
    for size, r in results.items():
        base = r["numpy"][0]
        rows = [
            ("Creator Hub API round trip (hybrid, HTTP)", r["api"]),
            ("  server-side search() (took_ms)", r["took"]),
            ("numpy brute force: embed query + top-10", r["numpy"]),
            ("numpy brute force: top-10 only", r["topk"]),
        ]
        for name, (p50, p95, worst) in rows:
            print(f"{size:8,}  {name:44} {p50:7.1f} {p95:7.1f} {worst:7.1f} {p50 / base:16.2f}")
    print()
    names = [
        ("embed query (_query_vectors)", "embed"),
        ("Chroma top-k (vectors.query)", "chroma_query"),
        ("Chroma get, keyword-only (vectors.similarities)", "chroma_get"),
        ("  in both: get_or_create_collection (_collection)", "collection"),
        ("  in top-k: collection.count(), called twice", "count"),
        ("full-text query (keyword.search)", "fts"),
        ("hydrate rows + highlight (_hydrate)", "hydrate"),
        ("knowledge-base lookup (_knowledge_bases)", "kb"),
        ("search() total", "search"),
        ("HTTP, auth, validation, JSON (round trip - search)", "http"),
    ]
    header = "".join(f"{f'{size:,} p50 ms':>16}" for size in results)
    print(f"{'stage of one API search (median per request)':52}{header}")
    for label, key in names:
        print(f"{label:52}" + "".join(f"{r['stages'][key]:16.1f}" for r in results.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
