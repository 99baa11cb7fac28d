"""Work a dead worker left half-done, picked up again whenever workers start."""

import logging

log = logging.getLogger(__name__)


def recover_interrupted_work(app) -> None:
    """Re-queue documents whose worker died mid-ingestion (killed, OOM, deploy)."""
    from app.knowledge.services import requeue_stalled_documents

    with app.app_context():
        count = requeue_stalled_documents()
    if count:
        log.warning("re-queued documents left in processing by a dead worker", extra={"count": count})
