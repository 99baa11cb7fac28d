"""Migration 0008 on a database written before it: squatted claims are released."""

import uuid

from flask_migrate import upgrade
from sqlalchemy import text

from app.extensions import db

NOW = "2026-01-01 00:00:00"


def test_claims_of_unverified_channels_are_released(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'before.sqlite3'}")
    creator = uuid.uuid4().hex
    channels = {"active": uuid.uuid4().hex, "unverified": uuid.uuid4().hex, "failed": uuid.uuid4().hex}
    with app.app_context():
        upgrade(revision="0007")
        db.session.execute(
            text(
                "INSERT INTO creators (id, full_name, email, timezone, subscription_tier, is_active, created_at,"
                " updated_at) VALUES (:id, 'A', 'a@example.com', 'UTC', 'free', 1, :now, :now)"
            ),
            {"id": creator, "now": NOW},
        )
        for n, (status, channel_id) in enumerate(channels.items()):
            db.session.execute(
                text(
                    "INSERT INTO channels (id, creator_id, channel_type, channel_name, status, configuration,"
                    " created_at, updated_at) VALUES (:id, :creator, 'sms', :status, :status, '{}', :now, :now)"
                ),
                {"id": channel_id, "creator": creator, "status": status, "now": NOW},
            )
            db.session.execute(
                text("INSERT INTO channel_addresses (id, creator_id, channel_id, address) VALUES (:id, :c, :ch, :a)"),
                {"id": uuid.uuid4().hex, "c": creator, "ch": channel_id, "a": f"+1555000000{n}"},
            )
        db.session.commit()
        upgrade(revision="0008")
        claims = db.session.execute(text("SELECT channel_id FROM channel_addresses")).scalars().all()
        statuses = dict(db.session.execute(text("SELECT channel_name, status FROM channels")).all())
        db.session.remove()
        db.engine.dispose()
    assert claims == [channels["active"]]
    assert statuses == {"active": "active", "unverified": "pending_verification", "failed": "failed"}
