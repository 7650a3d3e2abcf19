"""funded business register

Revision ID: 0009_eligibility
Revises: 0002_companies
Create Date: 2026-11-21 15:35:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import bot.db


revision = '0009_eligibility'
down_revision = '0002_companies'
branch_labels = ('eligibility',)
depends_on = None


def upgrade() -> None:
    op.create_table('funded_businesses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tax_id', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('programme', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('year_roc', sa.Integer(), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('imported_at', bot.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tax_id', 'programme', 'year_roc')
    )
    with op.batch_alter_table('funded_businesses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funded_businesses_tax_id'), ['tax_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('funded_businesses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_funded_businesses_tax_id'))
    op.drop_table('funded_businesses')
