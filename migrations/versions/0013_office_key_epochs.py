"""office key epochs: a rotatable office key, grants and cases per epoch, the recovery public key

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 10:00:00

Every municipality's existing office key becomes its epoch 1; every grant and every case belongs
to it. The recovery key's public half was never stored: it stays empty until the recovery key is
next used (core.custody.office_key_from_recovery).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'office_key_epoch',
        sa.Column('municipality_id', sa.String(length=32), nullable=False),
        sa.Column('epoch', sa.Integer(), nullable=False),
        sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
        sa.Column('sealed_to_current', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('rotation_requested_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('municipality_id', 'epoch'),
    )
    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recovery_public_key', sa.LargeBinary(length=32), nullable=True))
    with op.batch_alter_table('office_key_grant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('epoch', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('report_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('office_key_epoch', sa.Integer(), server_default='1', nullable=False))
    op.execute(
        sa.text(
            'INSERT INTO office_key_epoch (municipality_id, epoch, public_key, created_at) '
            'SELECT id, 1, office_public_key, created_at FROM municipality WHERE office_public_key IS NOT NULL'
        )
    )


def downgrade() -> None:
    with op.batch_alter_table('report_case', schema=None) as batch_op:
        batch_op.drop_column('office_key_epoch')
    with op.batch_alter_table('office_key_grant', schema=None) as batch_op:
        batch_op.drop_column('epoch')
    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.drop_column('recovery_public_key')
    op.drop_table('office_key_epoch')
