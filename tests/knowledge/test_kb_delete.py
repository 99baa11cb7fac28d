"""Deleting a knowledge base takes its documents, files, passages and vectors, and only its own."""

import uuid

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from app.extensions import db
from app.knowledge import vectors
from app.models import Chunk, Document, DocumentFile, KnowledgeBase
from app.vectorstore import chroma_client
from tests.conftest import csrf_token_from
from tests.knowledge.test_knowledge_api import GUIDE, create_kb, search, upload

PLAN = b"Hill repeats on Tuesdays: six times ninety seconds uphill, jog back down to recover."


def what_is_stored(app, kb_id: str) -> dict:
    """Rows and vectors left for one knowledge base."""
    kb_uuid = uuid.UUID(kb_id)
    with app.app_context():
        document_ids = select(Document.id).where(Document.knowledge_base_id == kb_uuid)
        vector_count = sum(
            len(
                chroma_client()
                .get_collection(c["name"], embedding_function=None)
                .get(where={"knowledge_base_id": kb_id}, include=[])["ids"]
            )
            for c in vectors.stats()
        )
        return {
            "knowledge_base": db.session.get(KnowledgeBase, kb_uuid) is not None,
            "documents": db.session.scalar(select(func.count()).select_from(document_ids.subquery())),
            "files": db.session.scalar(
                select(func.count()).select_from(DocumentFile).where(DocumentFile.document_id.in_(document_ids))
            ),
            "chunks": db.session.scalar(select(func.count(Chunk.id)).where(Chunk.knowledge_base_id == kb_uuid)),
            "vectors": vector_count,
        }


NOTHING = {"knowledge_base": False, "documents": 0, "files": 0, "chunks": 0, "vectors": 0}


def indexed_kb(client, account, run_jobs, name: str) -> dict:
    kb = create_kb(client, account, name=name)
    assert upload(client, account, kb["id"], "guide.md", GUIDE.encode()).status_code == 201
    assert upload(client, account, kb["id"], "plan.txt", PLAN).status_code == 201
    run_jobs()
    return kb


def assert_fully_stored(app, kb: dict) -> None:
    stored = what_is_stored(app, kb["id"])
    assert stored["knowledge_base"] and stored["documents"] == 2 and stored["files"] == 2
    assert stored["chunks"] > 2 and stored["vectors"] >= stored["chunks"]


@pytest.fixture
def bases(client, two_creators, run_jobs):
    """Alice's KB to delete, another of hers to keep, and Bob's."""
    alice, bob = two_creators
    return (
        indexed_kb(client, alice, run_jobs, "Doomed"),
        indexed_kb(client, alice, run_jobs, "Kept"),
        indexed_kb(client, bob, run_jobs, "Bob's"),
    )


def test_api_delete_removes_documents_files_passages_and_vectors(app, client, two_creators, bases):
    alice, bob = two_creators
    doomed, kept, bobs = bases
    assert_fully_stored(app, doomed)

    response = client.delete(f"/api/v1/knowledge-bases/{doomed['id']}", headers=alice.headers)

    assert response.status_code == 204
    assert what_is_stored(app, doomed["id"]) == NOTHING
    assert client.get(f"/api/v1/knowledge-bases/{doomed['id']}", headers=alice.headers).status_code == 404
    for owner, kb in ((alice, kept), (bob, bobs)):
        assert_fully_stored(app, kb)
        assert "two full rest days" in search(client, owner, kb["id"], "rest days")[0]["content"]


def test_api_delete_of_another_creators_knowledge_base_is_404_and_removes_nothing(app, client, two_creators, bases):
    alice, _ = two_creators
    _, _, bobs = bases

    response = client.delete(f"/api/v1/knowledge-bases/{bobs['id']}", headers=alice.headers)

    assert response.status_code == 404 and response.json["error"]["code"] == "RESOURCE_NOT_FOUND"
    assert_fully_stored(app, bobs)


def test_page_delete_removes_everything_and_goes_back_to_the_list(app, client, two_creators, bases, page_login):
    alice, bob = two_creators
    doomed, kept, bobs = bases
    page_login(client, alice.email)
    token = csrf_token_from(client.get(f"/knowledge/{doomed['id']}").get_data(as_text=True))

    response = client.post(f"/knowledge/{doomed['id']}/delete", data={"csrf_token": token})

    assert response.status_code == 302 and response.headers["Location"].endswith("/knowledge/")
    assert "Knowledge base “Doomed” deleted." in client.get("/knowledge/").get_data(as_text=True)
    assert what_is_stored(app, doomed["id"]) == NOTHING
    assert client.get(f"/knowledge/{doomed['id']}").status_code == 404
    assert_fully_stored(app, kept)
    assert_fully_stored(app, bobs)


def test_page_delete_of_another_creators_knowledge_base_is_404_and_removes_nothing(
    app, client, two_creators, bases, page_login
):
    alice, _ = two_creators
    _, _, bobs = bases
    page_login(client, alice.email)
    token = csrf_token_from(client.get("/knowledge/").get_data(as_text=True))

    response = client.post(f"/knowledge/{bobs['id']}/delete", data={"csrf_token": token})

    assert response.status_code == 404
    assert_fully_stored(app, bobs)


def test_migrations_run_in_process_leave_foreign_keys_enforced(make_app, tmp_path):
    """env.py turns SQLite's foreign keys off for batch migrations; the pooled connection
    must not go back to the app that way, or deletes stop cascading (benches and the
    test session run upgrade() in the app's own process)."""
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'migrated.sqlite3'}")
    with app.app_context():
        upgrade()
        assert db.engine.pool.checkedin() == 1  # the migration's connection, now reused below
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.scalar(select(func.count(KnowledgeBase.id))) == 0  # and the schema is there
        db.session.remove()
        db.engine.dispose()
