"""privacy erasures awaiting reply delivery

Revision ID: 0008_privacy
Revises: 0002_companies
Create Date: 2026-11-21 15:45:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import bot.db


revision = '0008_privacy'
down_revision = '0002_companies'
branch_labels = ('privacy',)
depends_on = None


def upgrade() -> None:
    op.create_table('privacy_erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pseudonym', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('reply_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('requested_at', bot.db.UTCDateTime(), nullable=False),
    sa.Column('finalised_at', bot.db.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('privacy_erasures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privacy_erasures_finalised_at'), ['finalised_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_privacy_erasures_pseudonym'), ['pseudonym'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('privacy_erasures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privacy_erasures_pseudonym'))
        batch_op.drop_index(batch_op.f('ix_privacy_erasures_finalised_at'))
    op.drop_table('privacy_erasures')
