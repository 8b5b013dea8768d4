"""audit chains keyed: the events written so far stay hashed without a key, as the legacy part

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10 10:00:00

From this revision on every audit event is tagged with HMAC-SHA256 under KOMMA_AUDIT_KEY. The
events already written keep their unkeyed hashes (recomputing them with the key would launder
any tampering that happened before): `legacy_seq` records, per chain, how far the unkeyed part
goes. The first keyed append (or `komma audit anchor`, or the daily check) writes each legacy
part's end into the keyed registry of chains, and the anchors carry it outside the database.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legacy_seq', sa.Integer(), nullable=False, server_default='0'))
    op.execute(sa.text('UPDATE audit_head SET legacy_seq = seq'))


def downgrade() -> None:
    # Keyed events cannot be checked without the key by older code: a downgrade keeps them as they are.
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.drop_column('legacy_seq')
