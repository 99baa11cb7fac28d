"""Chat generation through Ollama, streamed, with timeouts.

With no Ollama configured, or when it fails, the pipeline answers
extractively instead (see extractive.py): callers catch LLMUnavailable.
An answer counts as failed when Ollama cannot be reached, answers with an
error or with something that is not Ollama's NDJSON, stays silent longer
than OLLAMA_TIMEOUT_SECONDS, runs past that many seconds in all, ends
without its final "done" part, or says nothing at all.
"""

import time
from collections.abc import Iterator

import ollama
from flask import current_app

from app.knowledge.embeddings import ollama_answers


class LLMUnavailable(Exception):
    """Ollama is not configured, not reachable, or failed mid-answer."""


def ollama_host() -> str | None:
    host = current_app.config.get("OLLAMA_HOST")
    return host if host and ollama_answers(host) else None


def stream_chat(model: str, messages: list[dict], max_tokens: int) -> Iterator[str]:
    """Yield the answer's text pieces as Ollama produces them.

    Nothing waits on Ollama longer than the timeout for a byte (httpx), and
    the answer is cut off once the timeout has passed in all, so a turn
    falls back within about one timeout of silence, and never runs past two.
    """
    host = ollama_host()
    if host is None:
        raise LLMUnavailable("No Ollama server answers.")
    timeout = float(current_app.config["OLLAMA_TIMEOUT_SECONDS"])
    deadline = time.monotonic() + timeout
    client = ollama.Client(host=host, timeout=timeout)
    said, done = False, False
    try:
        for part in client.chat(
            model=model, messages=messages, stream=True, options={"num_predict": max_tokens, "temperature": 0.2}
        ):
            text = part.message.content if part.message else ""
            if text:
                said = said or bool(text.strip())
                yield text
            done = done or bool(part.done)
            if not done and time.monotonic() > deadline:
                raise LLMUnavailable(f"Ollama took longer than {timeout:g} s to answer.")
    except LLMUnavailable:
        raise
    except (ollama.ResponseError, ConnectionError, OSError, ValueError) as error:
        raise LLMUnavailable(f"Ollama failed: {error}") from error
    except Exception as error:  # httpx timeouts and malformed replies surface as many types
        raise LLMUnavailable(f"Ollama failed: {type(error).__name__}") from error
    finally:
        client.close()
    if not done:
        raise LLMUnavailable("Ollama's answer stopped before it was done.")
    if not said:
        raise LLMUnavailable("Ollama answered with nothing.")
