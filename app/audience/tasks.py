"""RQ jobs of the audience domain (queue `default`)."""

import logging
import uuid

from app.audience import imports
from app.extensions import db
from app.models import UserImport
from app.models.base import utcnow

log = logging.getLogger(__name__)
BATCH_SIZE = 1000


def import_users(import_id: str) -> str:
    """Process one upload in batches, committing progress and the report after each.

    Safe to run twice: a finished import is left alone, an interrupted one
    resumes after its last committed batch (rows are upserts either way).
    """
    job = db.session.get(UserImport, uuid.UUID(import_id))
    if job is None or job.status in ("completed", "failed"):
        return "skipped"
    job.status = "processing"
    db.session.commit()
    try:
        rows = imports.parse(job.data, job.file_format)
    except imports.ImportRefused as refused:
        return _finish(job, "failed", str(refused))
    job.total_rows = len(rows)
    db.session.commit()
    try:
        _run(job, rows)
    except Exception:  # the worker survives any file; the creator sees where it stopped
        log.exception("user import crashed", extra={"import_id": import_id})
        db.session.rollback()
        job = db.session.get(UserImport, uuid.UUID(import_id))
        return _finish(job, "failed", f"An internal error stopped the import after {job.processed_rows} rows.")
    return _finish(job, "completed")


def _run(job: UserImport, rows: list) -> None:
    seen: dict[tuple[str, str], int] = {}
    errors = list(job.errors or [])
    for start in range(0, len(rows), BATCH_SIZE):
        batch, new_errors = [], []
        for number, raw in rows[start : start + BATCH_SIZE]:
            record, row_errors = imports.normalize(number, raw)
            if record is not None and (first := seen.setdefault(imports.key_of(record), number)) != number:
                row_errors = [{"row": number, "field": None, "message": f"The same person as row {first}; skipped."}]
                record = None
            if record is not None:
                batch.append(record)
            new_errors.extend(row_errors)
        if start + BATCH_SIZE <= job.processed_rows:
            continue  # committed before an interruption: only its keys were needed
        created, updated = imports.upsert(job.creator_id, batch)
        job.created_count += created
        job.updated_count += updated
        job.error_count += len({e["row"] for e in new_errors})
        errors.extend(new_errors[: max(imports.MAX_ERRORS_KEPT - len(errors), 0)])
        job.errors = list(errors)
        job.processed_rows = min(start + BATCH_SIZE, len(rows))
        db.session.commit()
        imports.refresh_statistics(start // BATCH_SIZE + 1)


def _finish(job: UserImport, status: str, failure: str | None = None) -> str:
    job.status, job.failure, job.finished_at = status, failure, utcnow()
    db.session.commit()
    return status
