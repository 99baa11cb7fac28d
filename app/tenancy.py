"""Tenant scoping: every lookup of tenant data goes through the caller's creator.

Another creator's row is reported exactly like a missing one (404), so ids
leak nothing across tenants.
"""

import uuid

from sqlalchemy import select

from app.api.errors import not_found
from app.extensions import db


def get_for_creator(model, creator_id: uuid.UUID, object_id: uuid.UUID, what: str):
    """The `model` row with this id owned by this creator, else a 404 ApiError."""
    row = db.session.scalar(select(model).where(model.id == object_id, model.creator_id == creator_id))
    if row is None:
        raise not_found(what)
    return row
