"""argon2 one lane: receipt accesses remember their Argon2 parameters; the installation row exists

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 22:40:00

Codes issued before this revision were derived with m=65536, t=4, p=4 (the production default
then); they keep opening and are renewed under the new parameters at their next use. The
installation row (receipt salt) is created here, so the first reports of a new installation
do not race to create it.
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY = "m=65536,t=4,p=4"


def upgrade() -> None:
    with op.batch_alter_table("reporter_access", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kdf_params", sa.String(length=40), nullable=False, server_default=LEGACY))
    with op.batch_alter_table("reporter_access", schema=None) as batch_op:
        batch_op.alter_column("kdf_params", server_default=None)
        batch_op.create_index(batch_op.f("ix_reporter_access_kdf_params"), ["kdf_params"], unique=False)

    installation = sa.table(
        "installation",
        sa.column("id", sa.Integer),
        sa.column("receipt_salt", sa.LargeBinary),
        sa.column("created_at", core.db.UTCDateTime()),
    )
    connection = op.get_bind()
    if connection.execute(sa.select(installation.c.id).where(installation.c.id == 1)).first() is None:
        connection.execute(
            installation.insert().values(id=1, receipt_salt=secrets.token_bytes(32), created_at=datetime.now(UTC))
        )


def downgrade() -> None:
    with op.batch_alter_table("reporter_access", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reporter_access_kdf_params"))
        batch_op.drop_column("kdf_params")
