"""RQ jobs of programs: take ids, safe to run twice (the step claim in engine.py makes a spare a no-op).

`sweep_programs` runs every PROGRAM_SWEEP_SECONDS through app.jobs' periodic tick:
it enqueues the steps that are due but whose job is gone (a worker that died
mid-step, a scheduler that lost its scheduled job on restart).
"""

import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.jobs import job_pending
from app.models import Enrollment, EnrollmentStatus
from app.models.base import utcnow
from app.programs import engine


def run_program_steps(enrollment_id: str, seq: int) -> int:
    """Run the enrollment's step `seq` and the immediate ones after it."""
    return engine.run_steps(uuid.UUID(enrollment_id), int(seq))


def due_enrollments(grace: timedelta, limit: int = 5000) -> list[tuple[uuid.UUID, int]]:
    return db.session.execute(
        select(Enrollment.id, Enrollment.step_seq)
        .where(
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Enrollment.waiting_for == "ready",
            Enrollment.due_at <= utcnow() - grace,
        )
        .order_by(Enrollment.due_at)
        .limit(limit)
    ).all()


def sweep_programs() -> dict:
    """Enqueue every step overdue by more than the grace whose job is not waiting already."""
    grace = timedelta(seconds=current_app.config["PROGRAM_SWEEP_GRACE_SECONDS"])
    enqueued = 0
    for enrollment_id, seq in due_enrollments(grace):
        if not job_pending(engine.step_job_id(enrollment_id, seq)):
            engine.schedule(enrollment_id, seq, None)
            enqueued += 1
    db.session.rollback()
    return {"enqueued": enqueued}
