"""Server time added to one widget turn, at 10k chunks, against a bare flask-sock echo round trip.

    .venv/bin/python -m bench.widget_turn      (needs: apt-get install python3.11-doc)

The creator's knowledge is seeded exactly as bench/search_latency.py seeds it
(its Bench class: real Python-docs chunk texts, SYNTHETIC vectors; see there),
at BENCH_CHUNKS chunks (default 10,000). Model generation is excluded: the
chat model is tests/fakes/ollama_server.FakeOllama, which answers at once
(one short piece), so what is measured is the server's own work: WebSocket
receive, parse, rate limit, DB writes of the user message, persona, FAQ
match and response-cache lookup, hybrid retrieval (query embedding with the
local MiniLM, Chroma, full-text), prompt building, and the first streamed
piece out of the socket. The persona's confidence threshold is set to 0 so
every turn takes that whole path (synthetic vectors score lower than real
ones and would otherwise answer with the fallback message, skipping it).

Each turn is a new visitor (its own socket, opened beforehand and not
timed) asking one distinct Python FAQ question, so every turn is the first
of its conversation and no answer comes from the response cache. The clock
runs in the client, from just before ws.send() to the arrival of:
- the first frame of any kind (the "typing" indicator),
- the first answer piece (a "message" frame with "delta"): THE figure,
- the final "message" frame (done: the AI message stored and committed).

Baseline, same run, same server: a bare flask-sock route that sends back
what it receives, registered on the same app; a round trip of a frame the
size of a text frame is timed alongside each turn (interleaved, so anything
else the machine does falls on both alike).

The app (SQLite + fakeredis on a temporary instance, or DATABASE_URL /
REDIS_URL when set; rate limits off) is served by werkzeug's make_server in
a thread of this process, as in bench/search_latency.py, so the stages of
each turn are also timed in-process by wrapping the functions the pipeline
calls.
"""

import json
import logging
import os
import random
import sys
import time
import uuid

import numpy as np
import simple_websocket

from bench.common import in_instance
from bench.search_latency import POOL, SEED, Bench, Stages, load_sections, percentiles, serve
from tests.fakes.ollama_server import FakeOllama

CHUNKS = int(os.environ.get("BENCH_CHUNKS", 10_000))
TURNS = int(os.environ.get("BENCH_TURNS", 150))
WARMUP = 10
SITE = "https://bench.example"
ANSWER = "Rest two full days a week."


def time_first_piece(stages: Stages, pipeline) -> None:
    """Time the model call (a generator) up to its first piece: the fake model's share of a turn."""
    original = pipeline.stream_chat

    def timed(*args, **kwargs):
        started, first = time.perf_counter(), True
        for piece in original(*args, **kwargs):
            if first and stages.current is not None:
                stages.current["model"] += time.perf_counter() - started
            first = False
            yield piece

    pipeline.stream_chat = timed
    stages._undo.append(lambda: setattr(pipeline, "stream_chat", original))


def echo(ws):
    """The baseline: a bare flask-sock handler, nothing but receive and send."""
    while True:
        ws.send(ws.receive())


def setup_widget(bench: Bench, ollama_url: str) -> str:
    """A web channel for the bench creator; the persona answers through the fake Ollama."""
    from app.accounts.services import persona_for
    from app.extensions import db
    from app.models import Creator
    from app.widget import services as widget

    bench.app.config.update(OLLAMA_HOST=ollama_url, WIDGET_MESSAGES_PER_MINUTE=10_000)
    with bench.app.app_context():
        creator = db.session.get(Creator, bench.creator_id)
        persona_for(creator).confidence_threshold = 0.0
        channel = widget.create_web_channel(creator.id, "Bench", {"allowed_origins": [SITE], "title": "Bench"})
        db.session.commit()
        return str(channel.id)


def visitor(base_url: str, channel_id: str) -> simple_websocket.Client:
    """A new visitor's socket, connected and welcomed (not timed)."""
    from app.extensions import db
    from app.models import Channel
    from app.widget.services import new_visitor_id, visitor_token

    token = visitor_token(db.session.get(Channel, uuid.UUID(channel_id)), new_visitor_id())
    db.session.remove()
    ws_url = base_url.replace("http", "ws", 1)
    ws = simple_websocket.Client.connect(f"{ws_url}/widget/ws/{channel_id}?token={token}", headers={"Origin": SITE})
    hello = json.loads(ws.receive(timeout=30))
    assert hello["type"] == "connection_established", hello
    return ws


def turn(ws, question: str) -> dict[str, float]:
    """Seconds from send to the first frame, the first answer piece and the final frame."""
    times = {}
    started = time.perf_counter()
    ws.send(json.dumps({"type": "text", "text": question}))
    while "done" not in times:
        raw = ws.receive(timeout=60)
        if raw is None:
            raise SystemExit(f"no answer to {question!r}")
        now, frame = time.perf_counter() - started, json.loads(raw)
        times.setdefault("first", now)
        if frame["type"] == "message" and "delta" in frame:
            times.setdefault("delta", now)
        elif frame["type"] == "message" and frame.get("done"):
            if frame["answer_mode"] != "llm":
                raise SystemExit(f"expected an answer through the model, got {frame['answer_mode']}: {frame}")
            times["done"] = now
    return times


def echo_round_trip(ws, payload: str) -> float:
    started = time.perf_counter()
    ws.send(payload)
    assert ws.receive(timeout=30) == payload
    return time.perf_counter() - started


def main() -> int:
    return in_instance(run, "bench-widget-turn-")


def run(instance: str) -> int:
    from bench.faq_corpus import load

    questions = [q.text for q in load().questions]
    if len(questions) < TURNS + WARMUP:
        raise SystemExit(f"only {len(questions)} distinct questions for {TURNS + WARMUP} turns")
    sections = load_sections()
    text_rng, vector_rng = random.Random(SEED), np.random.default_rng(SEED)
    all_sentences = [s for _, sentences in sections for s in sentences]
    pool_texts = text_rng.sample(all_sentences, min(POOL, len(all_sentences)))

    bench = Bench(instance)
    logging.getLogger("app").setLevel(logging.WARNING)
    pool = np.asarray(bench.embedder.embed_documents(pool_texts), dtype=np.float32)
    started = time.perf_counter()
    bench.grow(CHUNKS, sections, text_rng, vector_rng, pool)
    seed_seconds = time.perf_counter() - started

    from app.assistant import pipeline, prompt
    from app.extensions import sock

    sock.route("/bench/echo")(echo)  # on the same app and server as the widget
    stages = Stages()
    stages.wrap(pipeline.faq, "match", "faq")
    stages.wrap(pipeline.cache, "lookup", "cache")
    stages.wrap(pipeline.search, "search", "search")
    stages.wrap(prompt, "build_messages", "prompt")
    stages.wrap(pipeline, "respond", "respond")
    time_first_piece(stages, pipeline)

    times: dict[str, list[float]] = {"first": [], "delta": [], "done": [], "echo": []}
    with FakeOllama(embed=lambda texts: [[0.0] * 384 for _ in texts], answer=ANSWER, models=None) as ollama:
        channel_id = setup_widget(bench, ollama.url)
        server, base_url = serve(bench.app)
        try:
            baseline = simple_websocket.Client.connect(base_url.replace("http", "ws", 1) + "/bench/echo")
            payload = json.dumps({"type": "text", "text": questions[0]})
            with bench.app.app_context():
                for number, question in enumerate(questions[-WARMUP:] + questions[:TURNS]):
                    ws = visitor(base_url, channel_id)
                    measured = number >= WARMUP
                    if measured:
                        stages.begin()
                    echo_seconds = echo_round_trip(baseline, payload)
                    result = turn(ws, question)
                    stages.current = None
                    ws.close()
                    if measured:
                        times["echo"].append(echo_seconds)
                        for key, seconds in result.items():
                            times[key].append(seconds)
                    else:
                        stages.requests.clear()
            baseline.close()
        finally:
            stages.restore()
            server.shutdown()

    chroma = f"Chroma server {bench.app.config['CHROMA_HOST']}" if bench.app.config["CHROMA_HOST"] else "Chroma local"
    redis = "Redis" if bench.app.config["REDIS_URL"] else "fakeredis"
    print(
        f"{CHUNKS:,} chunks (real Python-docs texts, SYNTHETIC vectors; seeded in {seed_seconds:.0f} s); "
        f"backend {bench.backend}, {chroma}, {redis}; werkzeug threaded server in this process."
    )
    print(
        f"{TURNS} turns after {WARMUP} warm-up turns, each a new visitor asking a distinct Python FAQ question; "
        "the model is a FakeOllama answering at once (generation excluded)."
    )
    print()
    echo_p50 = percentiles(times["echo"])[0]
    print(f"{'client send -> ...':62} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'p50 / echo p50':>15}")
    rows = [
        ("bare flask-sock echo round trip (baseline)", times["echo"]),
        ("widget: first frame out (typing)", times["first"]),
        ("widget: first answer piece (delta)  <- server time", times["delta"]),
        ("widget: final frame (AI message stored)", times["done"]),
    ]
    for label, seconds in rows:
        p50, p95, worst = percentiles(seconds)
        print(f"{label:62} {p50:7.2f} {p95:7.2f} {worst:7.2f} {p50 / echo_p50:15.1f}")
    print()
    print(f"{'stage inside the turn (median per turn, in-process)':62} {'ms':>7}")
    for label, key in (
        ("FAQ match (embeds the question)", "faq"),
        ("response-cache lookup", "cache"),
        ("hybrid retrieval (search.search)", "search"),
        ("prompt building", "prompt"),
        ("model call to its first piece (ollama client + FakeOllama HTTP)", "model"),
        ("pipeline.respond, whole (incl. the fake model's reply)", "respond"),
    ):
        print(f"{label:62} {stages.median_ms(key):7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
