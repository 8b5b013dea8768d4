"""statistics threshold: a municipality stores only its own choice; none means the policy

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00

Until now every municipality held a copy of the default threshold (5), so changing the policy
(clearing.statistics.suppression.THRESHOLD) would have left every existing municipality at the
old value. A copy of the default becomes NULL: the policy applies. No page sets a threshold, so
every stored 5 is such a copy.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The policy when this revision was written; downgrading writes it back.
POLICY_THRESHOLD = 5


def upgrade() -> None:
    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.alter_column(
            'statistics_threshold', existing_type=sa.Integer(), nullable=True, server_default=None
        )
    op.execute(
        sa.text('UPDATE municipality SET statistics_threshold = NULL WHERE statistics_threshold = :policy').bindparams(
            policy=POLICY_THRESHOLD
        )
    )


def downgrade() -> None:
    op.execute(
        sa.text('UPDATE municipality SET statistics_threshold = :policy WHERE statistics_threshold IS NULL').bindparams(
            policy=POLICY_THRESHOLD
        )
    )
    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.alter_column(
            'statistics_threshold', existing_type=sa.Integer(), nullable=False, server_default=str(POLICY_THRESHOLD)
        )
