"""public key bindings: an HMAC tag next to every stored public key

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-10 10:00:00

The tag is computed under KOMMA_KEY_BINDING_KEY, which the migration does not have: existing
keys stay untagged (and nothing is sealed to them) until the operator has compared their
fingerprints and run `komma keys bind` once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ('municipality', 'office_key_binding'),
    # The recovery key's public half itself arrives with the office key epochs (0013).
    ('municipality', 'recovery_key_binding'),
    ('account', 'public_key_binding'),
    ('partner_organisation', 'public_key_binding'),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(column, sa.LargeBinary(length=32), nullable=True))


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
