"""Figures for the dashboard home, all read from the creator's own rows."""

from sqlalchemy import func, select

from app.extensions import db
from app.models import ApiKey, Creator, Member


def workspace_overview(creator: Creator) -> dict:
    team_size = db.session.scalar(select(func.count()).where(Member.creator_id == creator.id))
    active_keys = db.session.scalar(
        select(func.count()).where(ApiKey.creator_id == creator.id, ApiKey.revoked_at.is_(None))
    )
    return {"team_size": team_size, "active_api_keys": active_keys}
