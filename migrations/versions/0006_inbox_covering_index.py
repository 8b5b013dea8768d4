"""inbox covering index: the inbox index carries the columns the inbox sorts and shows

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 01:30:00

Autogenerate does not compare INCLUDE columns, so this one is written by hand.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCLUDE = ["id", "urgency", "assigned_to", "acknowledged_at"]


def upgrade() -> None:
    with op.batch_alter_table("report_case", schema=None) as batch_op:
        batch_op.drop_index("ix_report_case_inbox")
        batch_op.create_index("ix_report_case_inbox", ["municipality_id", "status", "received_at"], unique=False, postgresql_include=INCLUDE)


def downgrade() -> None:
    with op.batch_alter_table("report_case", schema=None) as batch_op:
        batch_op.drop_index("ix_report_case_inbox")
        batch_op.create_index("ix_report_case_inbox", ["municipality_id", "status", "received_at"], unique=False)
