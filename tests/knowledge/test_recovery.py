"""A worker killed mid-job leaves the document retryable, not stuck in "processing"."""

import uuid
from datetime import timedelta

from sqlalchemy import update

from app.config import Config
from app.extensions import db
from app.knowledge.services import requeue_stalled_documents
from app.maintenance import recover_interrupted_work
from app.models import Document, DocumentStatus
from app.models.base import utcnow
from tests.knowledge.test_knowledge_api import GUIDE, create_kb, search, upload


def kill_worker_mid_job(app, document_id: str, minutes_ago: int) -> None:
    """What a worker that died during ingestion leaves behind."""
    with app.app_context():
        db.session.execute(
            update(Document)
            .where(Document.id == uuid.UUID(document_id))
            .values(
                processing_status=DocumentStatus.PROCESSING,
                processing_started_at=utcnow() - timedelta(minutes=minutes_ago),
            )
        )
        db.session.commit()


def status(client, account, kb, document_id):
    url = f"/api/v1/knowledge-bases/{kb['id']}/documents/{document_id}"
    return client.get(url, headers=account.headers).json["processing_status"]


def test_stalled_document_is_requeued_when_workers_start(app, client, creator, run_jobs):
    kb = create_kb(client, creator)
    doc = upload(client, creator, kb["id"], "guide.md", GUIDE.encode()).json
    kill_worker_mid_job(app, doc["id"], minutes_ago=60)
    recover_interrupted_work(app)
    assert run_jobs() == 2  # the upload's job and the re-queued one: one indexes it, the other finds it done
    assert status(client, creator, kb, doc["id"]) == "completed"
    assert "two full rest days" in search(client, creator, kb["id"], "rest days")[0]["content"]


def test_a_recent_processing_document_is_left_alone(app, client, creator, run_jobs):
    kb = create_kb(client, creator)
    doc = upload(client, creator, kb["id"], "guide.md", GUIDE.encode()).json
    run_jobs()
    kill_worker_mid_job(app, doc["id"], minutes_ago=1)  # still within a job's time: maybe just slow
    with app.app_context():
        assert requeue_stalled_documents() == 0
    retry = client.post(f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}/reprocess", headers=creator.headers)
    assert retry.status_code == 409


def test_stalled_document_can_be_retried_by_hand(app, client, creator, run_jobs):
    kb = create_kb(client, creator)
    doc = upload(client, creator, kb["id"], "guide.md", GUIDE.encode()).json
    run_jobs()
    kill_worker_mid_job(app, doc["id"], minutes_ago=60)
    retry = client.post(f"/api/v1/knowledge-bases/{kb['id']}/documents/{doc['id']}/reprocess", headers=creator.headers)
    assert retry.status_code == 202 and retry.json["processing_status"] == "pending"
    run_jobs()
    assert status(client, creator, kb, doc["id"]) == "completed"


def test_a_document_is_only_stalled_once_its_job_would_have_timed_out(app, client, creator, run_jobs, monkeypatch):
    """A slow job still running is never claimed by a second one, even if the stale
    threshold is configured below the job timeout."""
    assert Config.INGEST_STALE_SECONDS > Config.INGEST_JOB_TIMEOUT_SECONDS
    monkeypatch.setitem(app.config, "INGEST_JOB_TIMEOUT_SECONDS", 30 * 60)
    monkeypatch.setitem(app.config, "INGEST_STALE_SECONDS", 15 * 60)
    kb = create_kb(client, creator)
    doc = upload(client, creator, kb["id"], "guide.md", GUIDE.encode()).json
    kill_worker_mid_job(app, doc["id"], minutes_ago=20)  # past the threshold, within the job's time
    with app.app_context():
        assert requeue_stalled_documents() == 0
    run_jobs()  # the upload's job finds it claimed and leaves it
    assert status(client, creator, kb, doc["id"]) == "processing"

    kill_worker_mid_job(app, doc["id"], minutes_ago=32)  # the job would have timed out by now
    with app.app_context():
        assert requeue_stalled_documents() == 1
    run_jobs()
    assert status(client, creator, kb, doc["id"]) == "completed"
