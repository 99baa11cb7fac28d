"""RQ jobs of the FAQ domain (queue `default`)."""

import logging
import uuid

from app.accounts.services import persona_for
from app.assistant import pipeline
from app.extensions import db
from app.faq import cache
from app.models import Creator

log = logging.getLogger(__name__)


def warm_cache(creator_id: str, queries: list[str]) -> dict:
    """Answer each question now, as a first message would be, and keep the answers.

    Questions an FAQ entry answers, prohibited or below the confidence
    threshold are not cached: they are answered without generation anyway.
    """
    creator = db.session.get(Creator, uuid.UUID(creator_id))
    if creator is None:
        return {"warmed": 0, "skipped": len(queries)}
    persona = persona_for(creator)
    version = cache.knowledge_version(creator.id, persona)
    warmed = 0
    for query in queries:
        answer = pipeline.compose(creator, persona, pipeline.clean(query))
        if cache.cacheable(answer.answer_mode, persona):
            cache.store(creator.id, query, version, origin="warm", **pipeline.answer_fields(answer))
            warmed += 1
        db.session.commit()  # one question at a time: a slow model never holds a transaction
    log.info("response cache warmed", extra={"creator_id": creator_id, "warmed": warmed, "asked": len(queries)})
    return {"warmed": warmed, "skipped": len(queries) - warmed}
