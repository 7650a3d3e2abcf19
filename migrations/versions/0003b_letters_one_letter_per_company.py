"""one letter per company

Revision ID: 0003b_letters
Revises: 0003_letters
"""
from alembic import op

revision = '0003b_letters'
down_revision = '0003_letters'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_letters_company_id'))
        batch_op.create_index(batch_op.f('ix_letters_company_id'), ['company_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_letters_company_id'))
        batch_op.create_index(batch_op.f('ix_letters_company_id'), ['company_id'], unique=False)
