"""A fake Ollama server: real HTTP on 127.0.0.1, enough of the API for the `ollama` client.

No registry ships an Ollama server, so tests talk to this one instead:

    with FakeOllama(encoder=encoder, answer="Rest two days a week.") as ollama:
        app.config["OLLAMA_HOST"] = ollama.url
        ...
        ollama.fail_next(status=500)          # the next request gets a 500
        ollama.garbage_next(b"<html>")        # ... a 200 that is not Ollama's JSON
        ollama.cut_stream_next(after=2)       # ... a stream that stops without "done"
        ollama.cut_stream_next(after=2, hang=30)  # ... a stream that stalls, then drops
        ollama.requests_to("/api/embed")      # what the app sent

Endpoints, shaped as ollama-python 0.6.3 parses them:
- `GET /` ("Ollama is running"), `GET /api/version`, `GET /api/tags`
- `POST /api/embed`: {"model", "input": str | [str]} -> {"model", "embeddings": [[...]], ...}.
  The vectors are real all-MiniLM-L6-v2 embeddings (384-dim, normalised, as
  Ollama's are), so retrieval through "Ollama" behaves like the real thing.
  nomic-style task prefixes ("search_query: ") are stripped first: MiniLM
  was not trained with them and they would only blur the vectors.
- `POST /api/chat` and `POST /api/generate`: the canned `answer`, as one JSON
  object or, when "stream" is true (Ollama's default), as NDJSON pieces.

Unknown models get Ollama's 404 unless `models=None` (accept any name).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_MODELS = ("nomic-embed-text:latest", "llama3.2:latest")
DEFAULT_ANSWER = "This is a canned answer from the fake Ollama server."
TASK_PREFIX = re.compile(r"^(search_query|search_document|classification|clustering): ")

Answer = str | Callable[[dict], str]  # a callable gets the request body (messages, prompt, ...)
EmbedFunction = Callable[[list[str]], Sequence[Sequence[float]]]


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: Any  # the parsed JSON body, or None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    """What to do to the next matching request instead of (or before) answering it."""

    path: str | None  # None: any request
    times: int
    status: int | None = None  # answer with this error status
    error: str = ""
    delay: float = 0.0  # sleep first (timeouts)
    raw: bytes | None = None  # answer 200 with these bytes instead
    content_type: str = "application/x-ndjson"
    cut_after: int | None = None  # stream only this many pieces of the answer, never "done"
    hang: float = 0.0  # after those pieces, hold the connection open and silent this long, then drop it


class FakeOllama:
    """Start with `start()` or `with`; `url` is the base URL to give the client."""

    def __init__(
        self,
        *,
        encoder=None,
        embed: EmbedFunction | None = None,
        answer: Answer = DEFAULT_ANSWER,
        models: Iterable[str] | None = DEFAULT_MODELS,
        chunk_delay: float = 0.0,
        model_cache_dir: Path | None = None,
    ):
        """`encoder`: a MiniLMEncoder for /api/embed (else one is loaded on first
        use from `model_cache_dir`); `embed`: any function of texts to vectors,
        instead; `chunk_delay`: seconds between streamed pieces."""
        self.encoder = encoder
        self._embed_function = embed
        self.answer = answer
        self.models = None if models is None else list(models)
        self.chunk_delay = chunk_delay
        self.model_cache_dir = model_cache_dir or Path(tempfile.gettempdir()) / "creator-hub-test-models"
        self.requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()  # wakes requests held by delays and hangs
        self._connections: set[socket.socket] = set()  # open client connections, cut on stop()

    # --- lifecycle ----------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server, "FakeOllama is not started"
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeOllama:
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True  # keep-alive connections must not block stop()
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-ollama", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop as a real server does: kept-alive connections are cut too, not served on."""
        self._stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            with self._lock:
                connections, self._connections = list(self._connections), set()
            for connection in connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- test controls ------------------------------------------------------

    def fail_next(
        self, status: int = 500, error: str = "internal server error", *, times: int = 1, path: str | None = None
    ) -> None:
        """The next `times` requests (to `path`, or any) get `status` with Ollama's {"error": ...} body."""
        with self._lock:
            self._faults.append(_Fault(path, times, status=status, error=error))

    def delay_next(self, seconds: float, *, times: int = 1, path: str | None = None) -> None:
        """The next `times` requests (to `path`, or any) are answered only after `seconds`."""
        with self._lock:
            self._faults.append(_Fault(path, times, delay=seconds))

    def garbage_next(
        self,
        data: bytes,
        *,
        content_type: str = "application/x-ndjson",
        times: int = 1,
        path: str | None = "/api/chat",
    ) -> None:
        """The next `times` requests (to `path`, or any) get a 200 whose body is `data`, whatever it is."""
        with self._lock:
            self._faults.append(_Fault(path, times, raw=data, content_type=content_type))

    def cut_stream_next(
        self, after: int = 2, *, hang: float = 0.0, times: int = 1, path: str | None = "/api/chat"
    ) -> None:
        """The next `times` streamed answers stop after `after` pieces, without the final "done" part.

        Without `hang` the stream ends cleanly there; with it the connection stays open
        and silent for `hang` seconds (a stalled model), then drops mid-stream.
        """
        with self._lock:
            self._faults.append(_Fault(path, times, cut_after=after, hang=hang))

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def reset(self) -> None:
        """Forget recorded requests and pending faults."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()

    # --- behaviour ----------------------------------------------------------

    def embed(self, texts: list[str]) -> list[list[float]]:
        texts = [TASK_PREFIX.sub("", text) for text in texts]
        if self._embed_function:
            return [list(map(float, v)) for v in self._embed_function(texts)]
        if self.encoder is None:
            from app.knowledge.minilm import MiniLMEncoder

            with self._lock:
                self.encoder = self.encoder or MiniLMEncoder(self.model_cache_dir)
        return self.encoder.encode(texts).tolist()

    def answer_for(self, body: dict) -> str:
        return self.answer(body) if callable(self.answer) else self.answer

    def knows(self, model: str) -> bool:
        if self.models is None:
            return True
        return _tagged(model) in {_tagged(m) for m in self.models}

    def _record(self, request: RecordedRequest) -> _Fault | None:
        """Record the request; pop and return the fault that applies to it, if any."""
        with self._lock:
            self.requests.append(request)
            for fault in self._faults:
                if fault.path in (None, request.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


def _tagged(model: str) -> str:
    """Ollama's model names: "nomic-embed-text" means "nomic-embed-text:latest"."""
    return model if ":" in model else f"{model}:latest"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _pieces(text: str) -> list[str]:
    """Word-sized stream pieces that join back to the text exactly."""
    return re.findall(r"\s*\S+\s*", text) or [text]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, as the real server
    server_version = "FakeOllama/1"
    fault: _Fault | None = None  # the fault that shapes the answer being sent

    @property
    def fake(self) -> FakeOllama:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean

    def handle(self) -> None:
        with self.fake._lock:
            self.fake._connections.add(self.connection)
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): expected in fault tests
        finally:
            with self.fake._lock:
                self.fake._connections.discard(self.connection)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle(None)

    def do_HEAD(self) -> None:  # noqa: N802
        self._send_json(200, {})

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send_json(400, {"error": "invalid JSON body"})
            return
        self._handle(body)

    def _handle(self, body: Any) -> None:
        fault = self.fake._record(RecordedRequest(self.command, self.path, body, dict(self.headers)))
        if fault and fault.delay:
            self.fake._stopping.wait(fault.delay)
        if fault and fault.status:
            self._send_json(fault.status, {"error": fault.error})
            return
        if fault and fault.raw is not None:
            self._send_raw(fault.raw, fault.content_type)
            return
        self.fault = fault
        route = ROUTES.get((self.command, self.path))
        if route is None:
            self._send_json(404, {"error": f"{self.command} {self.path} is not served by the fake Ollama"})
            return
        if self.command == "POST":
            if not isinstance(body, dict) or not body.get("model"):
                self._send_json(400, {"error": "model is required"})
                return
            if not self.fake.knows(body["model"]):
                self._send_json(404, {"error": f'model "{body["model"]}" not found, try pulling it first'})
                return
        route(self, body)

    # --- responses ----------------------------------------------------------

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_text(self, text: str) -> None:
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_raw(self, data: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, parts: Iterable[dict]) -> None:
        """NDJSON over chunked transfer encoding, one JSON object per line."""
        fault = self.fault
        if fault and fault.cut_after is not None:
            parts = [part for part in parts if not part.get("done")][: fault.cut_after]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, part in enumerate(parts):
            if index and self.fake.chunk_delay:
                time.sleep(self.fake.chunk_delay)
            line = json.dumps(part).encode() + b"\n"
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.flush()
        if fault and fault.hang:
            self.fake._stopping.wait(fault.hang)
            self.close_connection = True  # drop it: no terminating chunk
            return
        self.wfile.write(b"0\r\n\r\n")

    # --- endpoints ----------------------------------------------------------

    def root(self, _body: None) -> None:
        self._send_text("Ollama is running")

    def version(self, _body: None) -> None:
        self._send_json(200, {"version": "0.6.3"})

    def tags(self, _body: None) -> None:
        models = self.fake.models or []
        self._send_json(200, {"models": [_model_entry(name) for name in models]})

    def embed(self, body: dict) -> None:
        inputs = body.get("input", [])
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        started = time.perf_counter_ns()
        vectors = self.fake.embed(texts) if texts else []
        if body.get("dimensions"):
            vectors = [_renormalised(v[: body["dimensions"]]) for v in vectors]
        self._send_json(
            200,
            {
                "model": body["model"],
                "embeddings": vectors,
                "total_duration": time.perf_counter_ns() - started,
                "load_duration": 0,
                "prompt_eval_count": sum(len(t.split()) for t in texts),
            },
        )

    def chat(self, body: dict) -> None:
        self._reply(body, lambda text: {"message": {"role": "assistant", "content": text}})

    def generate(self, body: dict) -> None:
        self._reply(body, lambda text: {"response": text}, final={"context": [1, 2, 3]})

    def _reply(self, body: dict, content: Callable[[str], dict], final: dict | None = None) -> None:
        """The canned answer, whole or streamed; `content` shapes the text for the endpoint."""
        answer = self.fake.answer_for(body)
        pieces = _pieces(answer)
        head = {"model": body["model"], "created_at": _now()}
        stats = {
            "done": True,
            "done_reason": "stop",
            "total_duration": 1_000_000,
            "load_duration": 0,
            "prompt_eval_count": len(json.dumps(body.get("messages") or body.get("prompt") or "").split()),
            "prompt_eval_duration": 0,
            "eval_count": len(pieces),
            "eval_duration": 1_000_000,
            **(final or {}),
        }
        if not body.get("stream", True):  # Ollama streams unless told not to
            self._send_json(200, head | content(answer) | stats)
            return
        parts = [head | content(piece) | {"done": False} for piece in pieces]
        self._send_stream(parts + [head | content("") | stats])


ROUTES: dict[tuple[str, str], Callable[[_Handler, Any], None]] = {
    ("GET", "/"): _Handler.root,
    ("GET", "/api/version"): _Handler.version,
    ("GET", "/api/tags"): _Handler.tags,
    ("POST", "/api/embed"): _Handler.embed,
    ("POST", "/api/chat"): _Handler.chat,
    ("POST", "/api/generate"): _Handler.generate,
}


def _model_entry(name: str) -> dict:
    family = name.split(":")[0].split("-")[0]
    return {
        "name": name,
        "model": name,
        "modified_at": "2026-01-01T00:00:00Z",
        "size": 274_302_450,
        "digest": "0" * 64,
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": "137M",
            "quantization_level": "F16",
        },
    }


def _renormalised(vector: list[float]) -> list[float]:
    norm = sum(x * x for x in vector) ** 0.5 or 1.0
    return [x / norm for x in vector]
