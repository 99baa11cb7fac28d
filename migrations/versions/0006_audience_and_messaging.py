"""Audience (identities, consent, tags, segments, imports) and messaging (Twilio numbers, inbound, outbox)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 15:10:01.282718

"""

from alembic import op
import sqlalchemy as sa
import app.models.base  # noqa: F401  (custom column types used by autogenerate)
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "segments",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "filter_criteria",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("estimated_audience_size", sa.Integer(), nullable=True),
        sa.Column("evaluated_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["creator_id"], ["creators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_segments_creator_id"), ["creator_id"], unique=False)

    op.create_table(
        "user_imports",
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("file_format", sa.String(length=10), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=True),
        sa.Column("processed_rows", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column(
            "errors", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("finished_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["creator_id"], ["creators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("user_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_imports_creator_id"), ["creator_id"], unique=False)

    op.create_table(
        "channel_addresses",
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.String(length=40), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["creator_id"], ["creators.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("address", name="uq_channel_addresses_address"),
    )
    with op.batch_alter_table("channel_addresses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_addresses_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_addresses_creator_id"), ["creator_id"], unique=False)

    op.create_table(
        "consent_events",
        sa.Column("end_user_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("previous_state", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["creator_id"], ["creators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["end_user_id"], ["end_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_events_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_events_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_events_end_user_id"), ["end_user_id"], unique=False)

    op.create_table(
        "end_user_identities",
        sa.Column("end_user_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["creator_id"], ["creators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["end_user_id"], ["end_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("creator_id", "channel", "external_id", name="uq_identities_channel_external"),
    )
    with op.batch_alter_table("end_user_identities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_end_user_identities_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_end_user_identities_end_user_id"), ["end_user_id"], unique=False)

    op.create_table(
        "end_user_tags",
        sa.Column("end_user_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=60), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["creator_id"], ["creators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["end_user_id"], ["end_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("end_user_id", "tag", name="uq_end_user_tags"),
    )
    with op.batch_alter_table("end_user_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_end_user_tags_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_end_user_tags_tag"), ["tag"], unique=False)

    op.create_table(
        "inbound_events",
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("from_address", sa.String(length=40), nullable=False),
        sa.Column("to_address", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("num_media", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("end_user_id", sa.Uuid(), nullable=True),
        sa.Column("conversation_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["creator_id"], ["creators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["end_user_id"], ["end_users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_sid", name="uq_inbound_events_sid"),
    )
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_events_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index("ix_inbound_events_creator_received", ["creator_id", "received_at"], unique=False)

    op.create_table(
        "outbound_messages",
        sa.Column("channel_id", sa.Uuid(), nullable=True),
        sa.Column("end_user_id", sa.Uuid(), nullable=True),
        sa.Column("conversation_id", sa.Uuid(), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("to_address", sa.String(length=40), nullable=False),
        sa.Column("from_address", sa.String(length=40), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=20), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status_updated_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["creator_id"], ["creators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["end_user_id"], ["end_users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_sid", name="uq_outbound_messages_sid"),
    )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbound_messages_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index("ix_outbound_messages_creator_status", ["creator_id", "status"], unique=False)
        batch_op.create_index("ix_outbound_messages_due", ["status", "next_attempt_at"], unique=False)

    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("encrypted_secrets", sa.Text(), nullable=True))

    with op.batch_alter_table("end_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_e164", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column(
                "attributes",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default="{}",
            )
        )
        batch_op.add_column(sa.Column("consent_state", sa.String(length=20), nullable=False, server_default="PENDING"))
        batch_op.add_column(sa.Column("consent_updated_at", app.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("engagement_score", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.create_index("ix_end_users_creator_consent", ["creator_id", "consent_state"], unique=False)
        batch_op.create_index("ix_end_users_creator_phone", ["creator_id", "phone_e164"], unique=False)

    # Every existing user is reachable by the identity they were created with.
    op.execute(
        "INSERT INTO end_user_identities (id, creator_id, end_user_id, channel, external_id, created_at) "
        "SELECT id, creator_id, id, channel, external_id, created_at FROM end_users"
    )


def downgrade():
    with op.batch_alter_table("end_users", schema=None) as batch_op:
        batch_op.drop_index("ix_end_users_creator_phone")
        batch_op.drop_index("ix_end_users_creator_consent")
        batch_op.drop_column("is_active")
        batch_op.drop_column("engagement_score")
        batch_op.drop_column("consent_updated_at")
        batch_op.drop_column("consent_state")
        batch_op.drop_column("attributes")
        batch_op.drop_column("phone_e164")

    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("encrypted_secrets")

    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_messages_due")
        batch_op.drop_index("ix_outbound_messages_creator_status")
        batch_op.drop_index(batch_op.f("ix_outbound_messages_creator_id"))

    op.drop_table("outbound_messages")
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_events_creator_received")
        batch_op.drop_index(batch_op.f("ix_inbound_events_creator_id"))

    op.drop_table("inbound_events")
    with op.batch_alter_table("end_user_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_end_user_tags_tag"))
        batch_op.drop_index(batch_op.f("ix_end_user_tags_creator_id"))

    op.drop_table("end_user_tags")
    with op.batch_alter_table("end_user_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_end_user_identities_end_user_id"))
        batch_op.drop_index(batch_op.f("ix_end_user_identities_creator_id"))

    op.drop_table("end_user_identities")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_events_end_user_id"))
        batch_op.drop_index(batch_op.f("ix_consent_events_creator_id"))
        batch_op.drop_index(batch_op.f("ix_consent_events_created_at"))

    op.drop_table("consent_events")
    with op.batch_alter_table("channel_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_addresses_creator_id"))
        batch_op.drop_index(batch_op.f("ix_channel_addresses_channel_id"))

    op.drop_table("channel_addresses")
    with op.batch_alter_table("user_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_imports_creator_id"))

    op.drop_table("user_imports")
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_segments_creator_id"))

    op.drop_table("segments")
