"""With OLLAMA_HOST set, knowledge bases embed through Ollama (nomic-embed-text),
and a query never mixes vectors of two models. The real `ollama` client talks
to a local server that speaks Ollama's HTTP API."""

from pathlib import Path

import pytest

from app.knowledge.embeddings import shared_encoder
from tests.fakes.ollama_server import FakeOllama
from tests.knowledge.test_knowledge_api import GUIDE, create_kb, search, upload


@pytest.fixture
def ollama(app):
    encoder = shared_encoder(Path(app.instance_path) / "models")
    with FakeOllama(encoder=encoder) as server:
        app.config["OLLAMA_HOST"] = server.url
        yield server
    app.config["OLLAMA_HOST"] = None


def test_knowledge_base_defaults_to_ollama_embeddings_when_configured(client, creator, ollama, run_jobs):
    kb = create_kb(client, creator)
    assert kb["settings"]["embedding_model"] == "nomic-embed-text"
    upload(client, creator, kb["id"], "guide.md", GUIDE.encode())
    run_jobs()
    assert "two full rest days" in search(client, creator, kb["id"], "How many days off per week?")[0]["content"]
    embeds = ollama.requests_to("/api/embed")
    documents = [text for r in embeds for text in r.body["input"] if text.startswith("search_document: ")]
    queries = [text for r in embeds for text in r.body["input"] if text.startswith("search_query: ")]
    assert documents and queries  # nomic-embed-text's task prefixes are sent


def test_switching_embedding_model_reindexes_and_never_mixes_vectors(client, creator, ollama, run_jobs):
    kb = create_kb(client, creator)
    doc = upload(client, creator, kb["id"], "guide.md", GUIDE.encode()).json
    run_jobs()
    client.put(
        f"/api/v1/knowledge-bases/{kb['id']}",
        headers=creator.headers,
        json={"settings": {"embedding_model": "all-MiniLM-L6-v2"}},
    )
    run_jobs()
    stats = client.get("/api/v1/ai/chromadb/stats", headers=creator.headers).json
    by_model = {c["embedding_model"]: c["count"] for c in stats["collections"]}
    assert by_model.get("nomic-embed-text", 0) == 0 and by_model["all-MiniLM-L6-v2"] > 0
    detail = client.get(f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}", headers=creator.headers).json
    assert detail["embedding_model"] == "all-MiniLM-L6-v2"
    assert "two full rest days" in search(client, creator, kb["id"], "rest days")[0]["content"]


def test_ollama_failure_fails_the_document_with_a_reason(client, creator, ollama, run_jobs):
    kb = create_kb(client, creator)
    doc = upload(client, creator, kb["id"], "guide.md", GUIDE.encode()).json
    ollama.fail_next(status=500, path="/api/embed")
    run_jobs()
    detail = client.get(f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}", headers=creator.headers).json
    assert detail["processing_status"] == "failed" and "Ollama" in detail["error_message"]
    client.post(f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}/reprocess", headers=creator.headers)
    run_jobs()
    assert (
        client.get(f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}", headers=creator.headers).json[
            "processing_status"
        ]
        == "completed"
    )


def test_unreachable_ollama_falls_back_to_the_local_model(app, client, creator):
    app.config["OLLAMA_HOST"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    try:
        kb = create_kb(client, creator, name="While Ollama is down")
    finally:
        app.config["OLLAMA_HOST"] = None
    assert kb["settings"]["embedding_model"] == "all-MiniLM-L6-v2"
