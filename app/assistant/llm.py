"""Chat generation through Ollama, streamed, with timeouts.

With no Ollama configured, or when it fails, the pipeline answers
extractively instead (see extractive.py): callers catch LLMUnavailable.
"""

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
    """Yield the answer's text pieces as Ollama produces them."""
    host = ollama_host()
    if host is None:
        raise LLMUnavailable("No Ollama server answers.")
    client = ollama.Client(host=host, timeout=current_app.config["OLLAMA_TIMEOUT_SECONDS"])
    try:
        for part in client.chat(
            model=model, messages=messages, stream=True, options={"num_predict": max_tokens, "temperature": 0.2}
        ):
            text = part.message.content if part.message else ""
            if text:
                yield text
    except (ollama.ResponseError, ConnectionError, OSError, ValueError) as error:
        raise LLMUnavailable(f"Ollama failed: {error}") from error
    except Exception as error:  # httpx timeouts and malformed replies surface as many types
        raise LLMUnavailable(f"Ollama failed: {type(error).__name__}") from error
