"""Twilio numbers belong to verified channels only

A channel used to claim its numbers when it was created, so anyone could hold
a number they did not own. Now a ChannelAddress exists only for a channel
Twilio has verified: the claims of unverified or failed channels are released
(their owners verify again), and "unverified" is called "pending_verification"
as creator-hub-api.md names it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 20:00:00

"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE channels SET status = 'pending_verification' WHERE status = 'unverified'")
    op.execute("DELETE FROM channel_addresses WHERE channel_id IN (SELECT id FROM channels WHERE status <> 'active')")


def downgrade():
    # Released claims are not restored: the channels stay unverified until verified again.
    op.execute("UPDATE channels SET status = 'unverified' WHERE status = 'pending_verification'")
