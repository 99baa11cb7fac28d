"""Text embedding models behind one small interface.

Two kinds: the local all-MiniLM-L6-v2 (onnxruntime, always available,
offline) and any embedding model served by Ollama (when OLLAMA_HOST is set).
`get_embedder(name)` returns the right one; it is cheap and touches neither
the network nor the model, so it can also be used to validate a name.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import ollama
from flask import current_app

if TYPE_CHECKING:
    from app.knowledge.minilm import MiniLMEncoder

LOCAL_MODEL = "all-MiniLM-L6-v2"
OLLAMA_DEFAULT_MODEL = "nomic-embed-text"

# Task prefixes some Ollama models were trained with: (document, query).
TASK_PREFIXES: dict[str, tuple[str, str]] = {
    "nomic-embed-text": ("search_document: ", "search_query: "),
}
OLLAMA_BATCH = 64  # inputs per /api/embed request: keeps each request well inside the timeout


class EmbeddingError(RuntimeError):
    """The text could not be embedded; the message is fit to show a creator."""


class Embedder(ABC):
    """A text embedding model. Vectors of one model are comparable with each other only."""

    name: str
    dimension: int | None  # None until known (Ollama models: after the first call)

    @abstractmethod
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""

    @abstractmethod
    def embed_query(self, text: str) -> list[float]:
        """The vector of a search query (some models embed queries differently)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


# --- local model -----------------------------------------------------------------

_encoders: dict[Path, MiniLMEncoder] = {}
_encoders_lock = threading.Lock()


def _forget_encoders_in_child() -> None:
    """After fork (RQ's work horses) start afresh: onnxruntime's thread pool and
    a lock possibly held by another parent thread do not survive a fork."""
    global _encoders_lock
    _encoders.clear()
    _encoders_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_encoders_in_child)


def shared_encoder(cache_dir: Path, threads: int | None = None) -> MiniLMEncoder:
    """The process-wide MiniLMEncoder for `cache_dir`, loaded on first use.

    Loading takes a fraction of a second from the cached ONNX file (about a
    second more the first time, to build it), and the model holds ~90 MB: one
    per process, shared by all threads. `threads` only applies to the first load.
    """
    cache_dir = Path(cache_dir).resolve()
    encoder = _encoders.get(cache_dir)
    if encoder is None:
        with _encoders_lock:
            encoder = _encoders.get(cache_dir)
            if encoder is None:
                encoder = _encoders[cache_dir] = _load_encoder(cache_dir, threads)
    return encoder


def _load_encoder(cache_dir: Path, threads: int | None) -> MiniLMEncoder:
    try:
        from app.knowledge.minilm import MiniLMEncoder  # imports onnxruntime: only when needed

        return MiniLMEncoder(cache_dir, threads=threads)
    except Exception as error:  # missing package, unwritable dir, onnxruntime: all mean "unavailable"
        raise EmbeddingError(f"The local embedding model {LOCAL_MODEL} could not be loaded: {error}") from error


class LocalMiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 in this process. `cache_dir` defaults to <instance>/models."""

    name = LOCAL_MODEL
    dimension = 384

    def __init__(self, cache_dir: Path | None = None, *, threads: int | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir else Path(current_app.instance_path) / "models"
        self.threads = threads

    @property
    def encoder(self) -> MiniLMEncoder:
        return shared_encoder(self.cache_dir, self.threads)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encoder.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


# --- Ollama ----------------------------------------------------------------------


class OllamaEmbedder(Embedder):
    """An embedding model served by Ollama, through the `ollama` client.

    Nothing is sent until the first embed call; every failure (unreachable,
    timeout, unknown model, bad answer) becomes an EmbeddingError.
    """

    def __init__(self, host: str, model: str = OLLAMA_DEFAULT_MODEL, timeout: float = 60):
        import ollama

        self.host, self.name, self.timeout = host, model, timeout
        self.dimension = None
        self._client = ollama.Client(host=host, timeout=timeout)
        base = model.split(":", 1)[0]  # "nomic-embed-text:v1.5" is still nomic
        self._document_prefix, self._query_prefix = TASK_PREFIXES.get(base, ("", ""))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        inputs = [self._document_prefix + text for text in texts]
        vectors: list[list[float]] = []
        for start in range(0, len(inputs), OLLAMA_BATCH):
            vectors += self._embed(inputs[start : start + OLLAMA_BATCH])
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self._embed([self._query_prefix + text])[0]

    def _embed(self, inputs: Sequence[str]) -> list[list[float]]:
        if not inputs:
            return []
        vectors = [list(vector) for vector in self._call(inputs).embeddings]
        if len(vectors) != len(inputs) or not all(vectors):
            raise EmbeddingError(
                f"Ollama at {self.host} returned {len(vectors)} embeddings for {len(inputs)} texts "
                f"with model {self.name!r}."
            )
        self.dimension = len(vectors[0])
        return vectors

    def _call(self, inputs: Sequence[str]):
        """POST /api/embed, with the client's and httpx's many errors made readable."""
        import httpx
        import ollama

        try:
            return self._client.embed(model=self.name, input=list(inputs))
        except ollama.ResponseError as error:
            hint = f" (try `ollama pull {self.name}` on the server)" if error.status_code == 404 else ""
            raise EmbeddingError(
                f"Ollama at {self.host} could not embed with {self.name!r}: {error.error} "
                f"(HTTP {error.status_code}){hint}."
            ) from error
        except ConnectionError as error:  # the client's own for httpx.ConnectError
            raise EmbeddingError(
                f"Cannot reach the Ollama server at {self.host} to embed with {self.name!r}: is it running?"
            ) from error
        except httpx.TimeoutException as error:
            raise EmbeddingError(
                f"Ollama at {self.host} did not answer within {self.timeout:g} s (model {self.name!r})."
            ) from error
        except (httpx.HTTPError, ValueError) as error:  # broken connection, malformed JSON
            raise EmbeddingError(f"Ollama at {self.host} failed to embed with {self.name!r}: {error}") from error


@functools.lru_cache(maxsize=32)
def _ollama_embedder(host: str, model: str, timeout: float) -> OllamaEmbedder:
    # One per (host, model, timeout): the httpx client inside pools connections.
    return OllamaEmbedder(host, model, timeout)


# --- the registry ----------------------------------------------------------------


def get_embedder(model_name: str) -> Embedder:
    """The embedder for a knowledge base's model name (needs an app context).

    LOCAL_MODEL runs here; any other name is an Ollama model and needs OLLAMA_HOST.
    """
    if model_name == LOCAL_MODEL:
        return LocalMiniLMEmbedder()
    host = current_app.config.get("OLLAMA_HOST")
    if not host:
        raise EmbeddingError(
            f"The embedding model {model_name!r} needs an Ollama server (OLLAMA_HOST), and none is configured; "
            f"use {LOCAL_MODEL!r} instead."
        )
    return _ollama_embedder(host, model_name, float(current_app.config.get("OLLAMA_TIMEOUT_SECONDS") or 60))


def default_embedding_model() -> str:
    """Ollama's nomic-embed-text when an Ollama server is configured and answers, else the local model."""
    host = current_app.config.get("OLLAMA_HOST")
    return OLLAMA_DEFAULT_MODEL if host and ollama_answers(host) else LOCAL_MODEL


_probe_cache: dict[str, tuple[float, bool]] = {}
PROBE_TTL_SECONDS = 30.0


def ollama_answers(host: str, timeout: float = 2.0) -> bool:
    """Whether the Ollama server answers now (remembered for 30 s, so pages stay fast)."""
    now = time.monotonic()
    cached = _probe_cache.get(host)
    if cached and now - cached[0] < PROBE_TTL_SECONDS:
        return cached[1]
    try:
        ollama.Client(host=host, timeout=timeout).list()
        answers = True
    except Exception:  # unreachable, timeout, HTTP error: all mean "no"
        answers = False
    _probe_cache[host] = (now, answers)
    return answers


def available_models() -> list[str]:
    """Model names a creator can pick; does not ask Ollama which models it has pulled."""
    return [LOCAL_MODEL, OLLAMA_DEFAULT_MODEL] if current_app.config.get("OLLAMA_HOST") else [LOCAL_MODEL]
