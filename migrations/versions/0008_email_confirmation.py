"""email confirmation: a new notification address waits here until its link is opened

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:47:28

One row per pending address, of a staff member's account or of a clearing office; only the
hash of the link's token finds it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('email_confirmation',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('token_box', sa.LargeBinary(), nullable=True),
    sa.Column('account_id', sa.String(length=32), nullable=True),
    sa.Column('municipality_id', sa.String(length=32), nullable=True),
    sa.Column('requested_by', sa.String(length=32), nullable=True),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_email_confirmation_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_email_confirmation_municipality_id_municipality'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by'], ['account.id'], name=op.f('fk_email_confirmation_requested_by_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_confirmation')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_email_confirmation_token_hash'))
    )
    with op.batch_alter_table('email_confirmation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_confirmation_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_confirmation_municipality_id'), ['municipality_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('email_confirmation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_confirmation_municipality_id'))
        batch_op.drop_index(batch_op.f('ix_email_confirmation_account_id'))

    op.drop_table('email_confirmation')
