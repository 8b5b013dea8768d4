"""flood resistance: reports marked as arrived during a flood, spent proof-of-work challenges

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import core.db
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flood_marked", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "spent_challenge",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("spent_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_spent_challenge")),
    )
    with op.batch_alter_table("spent_challenge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spent_challenge_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_spent_challenge_spent_at"), ["spent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("spent_challenge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spent_challenge_spent_at"))
        batch_op.drop_index(batch_op.f("ix_spent_challenge_expires_at"))
    op.drop_table("spent_challenge")
    with op.batch_alter_table("report_case", schema=None) as batch_op:
        batch_op.drop_column("flood_marked")
