"""Knowledge bases, documents and search through the API, with real ingestion jobs."""

import io
import threading
import uuid

import pytest
from sqlalchemy import event

from app.extensions import db

GUIDE = """# Marathon training guide

## Rest and recovery

Take two full rest days every week. Recovery is when your muscles adapt; skipping it
raises the risk of overuse injuries such as shin splints.

## Nutrition

Eat a carbohydrate-rich meal three hours before a long run. During runs longer than
ninety minutes, take 30 to 60 grams of carbohydrate per hour.

## Gear

Replace running shoes every 500 to 800 kilometres, when the midsole cushioning is worn.
"""


def create_kb(client, account, name="Course", **settings):
    body = {"name": name, "description": "Our course"}
    if settings:
        body["settings"] = settings
    response = client.post("/api/v1/knowledge-bases", headers=account.headers, json=body)
    assert response.status_code == 201, response.json
    return response.json


def upload(client, account, kb_id, filename, data: bytes, **form):
    return client.post(
        f"/api/v1/knowledge-bases/{kb_id}/documents",
        headers=account.headers,
        data={"file": (io.BytesIO(data), filename), **form},
        content_type="multipart/form-data",
    )


def search(client, account, kb_id, query, limit=5):
    response = client.post(
        f"/api/v1/knowledge-bases/{kb_id}/search", headers=account.headers, json={"query": query, "limit": limit}
    )
    assert response.status_code == 200, response.json
    return response.json["results"]


@pytest.fixture
def course(client, creator, run_jobs):
    kb = create_kb(client, creator)
    doc = upload(client, creator, kb["id"], "guide.md", GUIDE.encode(), title="Training guide").json
    run_jobs()
    return kb, doc


def test_uploaded_document_is_parsed_chunked_and_found(client, creator, course):
    kb, doc = course
    detail = client.get(f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}", headers=creator.headers).json
    assert detail["processing_status"] == "completed" and detail["chunk_count"] == len(detail["chunks"]) >= 3
    sections = {c["metadata"]["section"] for c in detail["chunks"]}
    assert any("Rest and recovery" in s for s in sections)
    results = search(client, creator, kb["id"], "How many days off should I take each week?")
    assert "two full rest days" in results[0]["content"]
    top = results[0]
    assert top["document_title"] == "Training guide" and top["document_id"] == doc["id"]
    assert top["score"] > 0 and "chunk_index" in top and "<mark>" in top["highlight"]


def test_keyword_side_finds_rare_terms(client, creator, course):
    kb, _ = course
    assert "shin splints" in search(client, creator, kb["id"], "shin splints")[0]["content"]


def test_counts_stay_true(client, creator, course):
    kb, doc = course
    body = client.get(f"/api/v1/knowledge-bases/{kb['id']}", headers=creator.headers).json
    assert body["document_count"] == 1 and body["total_size_bytes"] == len(GUIDE.encode())
    client.delete(f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}", headers=creator.headers)
    body = client.get(f"/api/v1/knowledge-bases/{kb['id']}", headers=creator.headers).json
    assert body["document_count"] == 0 and body["total_size_bytes"] == 0


def test_deleting_a_document_removes_its_vectors_and_passages(client, creator, course):
    kb, doc = course
    assert (
        client.delete(f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}", headers=creator.headers).status_code
        == 200
    )
    assert search(client, creator, kb["id"], "rest days") == []
    stats = client.get("/api/v1/ai/chromadb/stats", headers=creator.headers).json
    assert stats["total_vectors"] == 0


def test_duplicate_upload_is_detected_by_checksum(client, creator, course):
    kb, doc = course
    again = upload(client, creator, kb["id"], "copy-of-guide.md", GUIDE.encode())
    assert again.status_code == 409 and again.json["error"]["details"]["existing_document_id"] == doc["id"]


def test_the_same_file_uploaded_twice_at_once_is_stored_once_and_the_other_told_so(app, client, creator):
    """Both uploads pass the duplicate check before either is stored; the unique
    constraint lets one in, the other gets the same 409 as a later duplicate."""
    kb = create_kb(client, creator)
    both_checked = threading.Barrier(2, timeout=10)

    def insert_together(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO documents ("):
            both_checked.wait()

    responses = []

    def send(filename):
        responses.append(upload(app.test_client(), creator, kb["id"], filename, GUIDE.encode()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", insert_together)
    try:
        threads = [threading.Thread(target=send, args=(name,)) for name in ("guide.md", "copy.md")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        event.remove(engine, "before_cursor_execute", insert_together)

    assert sorted(r.status_code for r in responses) == [201, 409], [r.json for r in responses]
    stored = next(r.json for r in responses if r.status_code == 201)
    refused = next(r.json for r in responses if r.status_code == 409)
    assert refused["error"]["code"] == "CONFLICT"
    assert refused["error"]["details"]["existing_document_id"] == stored["id"]
    assert stored["title"] in refused["error"]["message"]
    listed = client.get(f"/api/v1/knowledge-bases/{kb['id']}/documents", headers=creator.headers).json["documents"]
    assert [d["id"] for d in listed] == [stored["id"]]
    assert client.get(f"/api/v1/knowledge-bases/{kb['id']}", headers=creator.headers).json["document_count"] == 1


def test_reingestion_replaces_never_duplicates(client, creator, course, run_jobs):
    kb, doc = course
    before = client.get("/api/v1/ai/chromadb/stats", headers=creator.headers).json["total_vectors"]
    assert (
        client.post(
            f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}/reprocess", headers=creator.headers
        ).status_code
        == 202
    )
    run_jobs()
    assert client.get("/api/v1/ai/chromadb/stats", headers=creator.headers).json["total_vectors"] == before
    assert len(search(client, creator, kb["id"], "rest days", limit=50)) == before


def test_changing_chunk_settings_reindexes(client, creator, course, run_jobs):
    kb, doc = course
    response = client.put(
        f"/api/v1/knowledge-bases/{kb['id']}",
        headers=creator.headers,
        json={"settings": {"chunk_size": 200, "chunk_overlap": 20}},
    )
    assert response.status_code == 200 and response.json["settings_version"] == kb["settings_version"] + 1
    assert (
        client.get(f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}", headers=creator.headers).json[
            "processing_status"
        ]
        == "pending"
    )
    run_jobs()
    detail = client.get(f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}", headers=creator.headers).json
    assert detail["processing_status"] == "completed"
    assert all(len(c["content"]) <= 200 for c in detail["chunks"])


def test_settings_are_validated(client, creator, course):
    kb, _ = course
    bad = client.put(
        f"/api/v1/knowledge-bases/{kb['id']}",
        headers=creator.headers,
        json={"settings": {"chunk_size": 50, "chunk_overlap": 40}},
    )
    assert bad.status_code == 422
    needs_ollama = client.post(
        "/api/v1/knowledge-bases",
        headers=creator.headers,
        json={"name": "X", "settings": {"embedding_model": "nomic-embed-text"}},
    )
    assert needs_ollama.status_code == 422 and "OLLAMA_HOST" in needs_ollama.json["error"]["message"]


def test_paste_text_document(client, creator, run_jobs):
    kb = create_kb(client, creator)
    response = client.post(
        f"/api/v1/knowledge-bases/{kb['id']}/documents/text",
        headers=creator.headers,
        json={"title": "FAQ", "content": "## Refunds\n\nRefunds are issued within 14 days of purchase."},
    )
    assert response.status_code == 201 and response.json["processing_status"] == "pending"
    run_jobs()
    assert "14 days" in search(client, creator, kb["id"], "can I get my money back")[0]["content"]


def test_document_list_filters_and_update(client, creator, course):
    kb, doc = course
    listed = client.get(
        f"/api/v1/knowledge-bases/{kb['id']}/documents?status=completed&search=Training", headers=creator.headers
    ).json
    assert listed["pagination"]["total"] == 1 and listed["documents"][0]["id"] == doc["id"]
    assert (
        client.get(f"/api/v1/knowledge-bases/{kb['id']}/documents?status=failed", headers=creator.headers).json[
            "documents"
        ]
        == []
    )
    updated = client.put(
        f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}",
        headers=creator.headers,
        json={"title": "Guide v2", "metadata": {"level": "beginner"}},
    )
    assert updated.json["title"] == "Guide v2" and updated.json["metadata"] == {"level": "beginner"}


def test_search_across_all_knowledge_bases(client, creator, course, run_jobs):
    other = create_kb(client, creator, name="Shop")
    upload(client, creator, other["id"], "shop.txt", b"Shipping takes five working days within Europe.")
    run_jobs()
    response = client.post("/api/v1/knowledge/search", headers=creator.headers, json={"query": "how long is delivery"})
    assert "five working days" in response.json["results"][0]["content"]


def test_a_creator_never_finds_another_creators_passage(client, two_creators, run_jobs):
    alice, bob = two_creators
    canary = "The canary passphrase is PELICAN-ORBIT-7731, known only to Bob."
    bob_kb = create_kb(client, bob, name="Secrets")
    upload(client, bob, bob_kb["id"], "canary.txt", canary.encode())
    alice_kb = create_kb(client, alice, name="Open")
    upload(client, alice, alice_kb["id"], "open.txt", b"Alice teaches yoga on Mondays.")
    run_jobs()
    for query in ("canary passphrase PELICAN-ORBIT-7731", "What is known only to Bob?"):
        everything = client.post(
            "/api/v1/knowledge/search", headers=alice.headers, json={"query": query, "limit": 50}
        ).json
        assert all("PELICAN" not in hit["content"] for hit in everything["results"])
        assert search(client, alice, alice_kb["id"], query, limit=50) == [] or all(
            "PELICAN" not in hit["content"] for hit in search(client, alice, alice_kb["id"], query, limit=50)
        )
    # Bob's KB and documents are invisible to Alice, by id too.
    assert (
        client.post(
            f"/api/v1/knowledge-bases/{bob_kb['id']}/search", headers=alice.headers, json={"query": "canary"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/api/v1/knowledge/search",
            headers=alice.headers,
            json={"query": "canary", "knowledge_base_ids": [bob_kb["id"]]},
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/knowledge-bases/{bob_kb['id']}/documents", headers=alice.headers).status_code == 404
    assert client.get(f"/api/v1/ai/embeddings/stats/{bob.creator_id}", headers=alice.headers).status_code == 404
    assert "PELICAN" in search(client, bob, bob_kb["id"], "canary passphrase")[0]["content"]


def test_agents_are_refused_knowledge_as_on_the_dashboard(client, creator, make_member, course):
    kb, doc = course
    agent = make_member(creator, "agent")
    assert client.get(f"/api/v1/knowledge-bases/{kb['id']}", headers=agent.headers).status_code == 403
    assert (
        client.delete(f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}", headers=agent.headers).status_code
        == 403
    )
    assert client.post("/api/v1/knowledge-bases", headers=agent.headers, json={"name": "X"}).status_code == 403


def test_missing_ids_are_404(client, creator, course):
    kb, _ = course
    assert client.get(f"/api/v1/knowledge-bases/{uuid.uuid4()}", headers=creator.headers).status_code == 404
    assert (
        client.get(f"/api/v1/knowledge-bases/{kb['id']}/documents/{uuid.uuid4()}", headers=creator.headers).status_code
        == 404
    )


def test_chroma_health_and_embedding_stats(client, creator, course):
    health = client.get("/api/v1/ai/chromadb/health", headers=creator.headers).json
    assert health["status"] == "ok"
    stats = client.get(f"/api/v1/ai/embeddings/stats/{creator.creator_id}", headers=creator.headers).json
    assert stats["documents"] == 1 and stats["chunks"] >= 3
    assert stats["vectors_by_model"] == {"all-MiniLM-L6-v2": stats["chunks"]}


def test_pdf_and_docx_are_ingested_and_searchable(client, creator, run_jobs):
    from tests.knowledge.test_parsing import make_docx, make_pdf

    kb = create_kb(client, creator, name="Handbook")
    pdf = make_pdf(
        [
            ["Cadence", "", "Aim for about 170 to 180 steps per minute on easy runs."],
            ["Breathing", "", "Breathe in for three steps and out for two."],
        ],
        title="Running form",
    )
    docs = [
        upload(client, creator, kb["id"], "form.pdf", pdf).json,
        upload(client, creator, kb["id"], "handbook.docx", make_docx()).json,
    ]
    run_jobs()
    for doc in docs:
        detail = client.get(f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}", headers=creator.headers).json
        assert detail["processing_status"] == "completed", detail["error_message"]
    pdf_hit = search(client, creator, kb["id"], "how many steps per minute")[0]
    assert "170 to 180 steps" in pdf_hit["content"] and pdf_hit["page"] == 1
    docx_hit = search(client, creator, kb["id"], "how long do refunds take")[0]
    assert "five business days" in docx_hit["content"] and "Refunds" in docx_hit["section"]


def test_uploads_are_rate_limited_per_creator(app, client, two_creators):
    alice, bob = two_creators
    kb_a, kb_b = create_kb(client, alice), create_kb(client, bob)
    app.config["RATELIMIT_API_UPLOADS"] = "2 per hour"
    try:
        codes = [upload(client, alice, kb_a["id"], f"n{i}.txt", f"note {i}".encode()).status_code for i in range(3)]
        assert codes == [201, 201, 429]
        assert upload(client, bob, kb_b["id"], "b.txt", b"bob's note").status_code == 201
    finally:
        app.config["RATELIMIT_API_UPLOADS"] = "50 per hour"


@pytest.mark.parametrize("name", ["Ærø Running", "Ωmega plan", "Guide"])
def test_a_second_knowledge_base_of_the_same_name_is_a_409_whatever_its_letters(client, creator, name):
    """SQLite's lower() knows only ASCII: the name check must still see an exact duplicate
    (it missed "Ærø", and the unique index answered with a 500)."""
    first = client.post("/api/v1/knowledge-bases", headers=creator.headers, json={"name": name})
    assert first.status_code == 201
    again = client.post("/api/v1/knowledge-bases", headers=creator.headers, json={"name": name})
    assert again.status_code == 409 and again.json["error"]["code"] == "CONFLICT"
    renamed = client.post("/api/v1/knowledge-bases", headers=creator.headers, json={"name": "Other"}).json
    clash = client.put(f"/api/v1/knowledge-bases/{renamed['id']}", headers=creator.headers, json={"name": name})
    assert clash.status_code == 409
    assert client.get("/api/v1/knowledge-bases", headers=creator.headers).json["pagination"]["total"] == 2
