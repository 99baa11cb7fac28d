"""Pagination of SQLAlchemy selects into the API's list shape."""

import math

from sqlalchemy import func, select

from app.api.inputs import INT_MAX
from app.extensions import db


def paginate(query, page: int, limit: int) -> tuple[list, dict]:
    """Run `query` for one page; return (items, pagination dict)."""
    page = min(page, INT_MAX)  # a page number from a URL: its offset must still fit a BIGINT
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(limit).offset((page - 1) * limit)).all()
    return items, {"page": page, "limit": limit, "total": total, "pages": math.ceil(total / limit) if total else 0}
