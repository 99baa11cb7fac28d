"""FAQ entries, the response cache, and which messages it served

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 14:39:01.904685

"""
from alembic import op
import sqlalchemy as sa
import app.models.base  # noqa: F401  (custom column types used by autogenerate)
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('faq_entries',
    sa.Column('question', sa.String(length=500), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('question_variants', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('frequency', sa.Integer(), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('last_hit_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('embeddings', sa.LargeBinary(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('creator_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['creators.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('faq_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_faq_entries_creator_id'), ['creator_id'], unique=False)

    op.create_table('response_cache',
    sa.Column('query_key', sa.String(length=64), nullable=False),
    sa.Column('query', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('answer_mode', sa.String(length=20), nullable=False),
    sa.Column('sources', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('knowledge_version', sa.String(length=64), nullable=False),
    sa.Column('origin', sa.String(length=20), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('last_hit_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('creator_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['creators.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('creator_id', 'query_key', name='uq_response_cache_query')
    )
    with op.batch_alter_table('response_cache', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_response_cache_creator_id'), ['creator_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_response_cache_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cached_response', sa.Boolean(), nullable=False, server_default=sa.false()))




def downgrade():

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('cached_response')

    with op.batch_alter_table('response_cache', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_response_cache_expires_at'))
        batch_op.drop_index(batch_op.f('ix_response_cache_creator_id'))

    op.drop_table('response_cache')
    with op.batch_alter_table('faq_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_faq_entries_creator_id'))

    op.drop_table('faq_entries')

