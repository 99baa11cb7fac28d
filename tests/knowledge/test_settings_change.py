"""Settings changed while a document is being indexed: it ends up indexed under the new ones.

The creator's settings change is made at a chosen point of the running job: a
listener on the engine saves the new settings through the API just before the
job runs a given SQL statement. No part of the app is replaced.
"""

import threading
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.knowledge import services, vectors
from app.models import Chunk, Document, KnowledgeBase
from app.vectorstore import chroma_client
from tests.knowledge.test_knowledge_api import create_kb, upload

LONG_TEXT = " ".join(
    f"Session {i} of the plan alternates interval training with easy tempo runs." for i in range(80)
).encode()
NEW_SETTINGS = {"chunk_size": 200, "chunk_overlap": 20}


@contextmanager
def settings_saved_at(app, account, kb_id, statement_starts: str, wait: bool = True):
    """Save NEW_SETTINGS through the API the first time any connection runs a statement starting
    so: before the statement runs (wait=True), or alongside it and what follows (wait=False)."""
    fired, saved = [], []

    def put_settings():
        response = app.test_client().put(
            f"/api/v1/knowledge-bases/{kb_id}", headers=account.headers, json={"settings": NEW_SETTINGS}
        )
        saved.append(response.status_code)

    # Another thread, as another web process would be: its own app context and connection.
    request = threading.Thread(target=put_settings)

    def save_settings(conn, cursor, statement, parameters, context, executemany):
        if not fired and statement.lstrip().startswith(statement_starts):
            fired.append(statement)
            request.start()
            if wait:
                request.join(timeout=30)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", save_settings)
    try:
        yield saved
    finally:
        event.remove(engine, "before_cursor_execute", save_settings)
        if fired:
            request.join(timeout=30)


def indexed_state(app, kb_id: str, document_id: str):
    """The document's row, its passages and the chunk ids its vectors point at."""
    with app.app_context():
        kb = db.session.get(KnowledgeBase, uuid.UUID(kb_id))
        document = db.session.get(Document, uuid.UUID(document_id))
        chunks = db.session.scalars(select(Chunk).where(Chunk.document_id == document.id)).all()
        collection = chroma_client().get_collection(
            vectors.collection_name(kb.creator_id, kb.embedding_model), embedding_function=None
        )
        found = collection.get(where={"document_id": document_id}, include=["metadatas"])
        vector_chunks = {uuid.UUID(m["chunk_id"]) for m in found["metadatas"]}
        return kb, document, chunks, vector_chunks


@pytest.mark.parametrize(
    "moment,statement_starts",
    [
        ("while the job reads and embeds the file", "SELECT document_files."),
        ("just before the job writes its passages", "UPDATE knowledge_bases"),
    ],
)
def test_settings_changed_mid_job_end_with_the_document_indexed_under_the_new_ones(
    app, client, creator, run_jobs, moment, statement_starts
):
    kb = create_kb(client, creator)
    doc = upload(client, creator, kb["id"], "plan.txt", LONG_TEXT).json

    with settings_saved_at(app, creator, kb["id"], statement_starts) as saved:
        run_jobs()
    assert saved == [200], f"the settings were not changed {moment}"

    kb_row, document, chunks, vector_chunks = indexed_state(app, kb["id"], doc["id"])
    assert kb_row.settings_version == kb["settings_version"] + 1
    assert document.processing_status == "completed"
    assert document.indexed_settings_version == kb_row.settings_version
    assert len(chunks) > 10 and all(chunk.char_count <= NEW_SETTINGS["chunk_size"] for chunk in chunks)
    assert document.chunk_count == len(chunks)
    assert vector_chunks == {chunk.id for chunk in chunks}  # no vector left from the old chunking


def test_settings_saved_while_the_job_writes_its_passages_wait_for_it_then_reindex(app, client, creator, run_jobs):
    """The job holds the knowledge base's row from its version check to its commit."""
    kb = create_kb(client, creator)
    doc = upload(client, creator, kb["id"], "plan.txt", LONG_TEXT).json

    with settings_saved_at(app, creator, kb["id"], "DELETE FROM chunks", wait=False) as saved:
        run_jobs()
    assert saved == [200]
    run_jobs()  # the re-index the settings change queued

    kb_row, document, chunks, vector_chunks = indexed_state(app, kb["id"], doc["id"])
    assert kb_row.settings_version == kb["settings_version"] + 1
    assert document.processing_status == "completed"
    assert document.indexed_settings_version == kb_row.settings_version
    assert len(chunks) > 10 and all(chunk.char_count <= NEW_SETTINGS["chunk_size"] for chunk in chunks)
    assert vector_chunks == {chunk.id for chunk in chunks}


def test_a_job_finding_the_document_indexed_under_older_settings_indexes_it_again(app, client, creator, run_jobs):
    """The claim compares the version the document was indexed under with the KB's."""
    kb = create_kb(client, creator)
    doc = upload(client, creator, kb["id"], "plan.txt", LONG_TEXT).json
    run_jobs()
    with app.app_context():
        # The version moved on and the document still says completed (a settings change
        # made by hand in the database, say); then a job for it comes along.
        row = db.session.get(KnowledgeBase, uuid.UUID(kb["id"]))
        row.chunk_size, row.chunk_overlap = NEW_SETTINGS["chunk_size"], NEW_SETTINGS["chunk_overlap"]
        row.settings_version += 1
        db.session.commit()
        services.enqueue_ingest(uuid.UUID(doc["id"]))
        services.enqueue_ingest(uuid.UUID(doc["id"]))  # the second finds it current and skips
    assert run_jobs() == 2

    kb_row, document, chunks, vector_chunks = indexed_state(app, kb["id"], doc["id"])
    assert document.processing_status == "completed"
    assert document.indexed_settings_version == kb_row.settings_version
    assert all(chunk.char_count <= NEW_SETTINGS["chunk_size"] for chunk in chunks)
    assert vector_chunks == {chunk.id for chunk in chunks}
