"""record purposes: messages, internal notes, assessment notes and attachments each bound their own way

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10 10:00:00

Until now messages, internal notes and assessment notes were encrypted under one purpose
("message"), so a note copied into the message table opened as a message. New rows use a purpose
per record kind bound to the case (reporting.case_crypto). Rows written before cannot be
re-encrypted here (that needs the case keys), so they are marked format 1 and read the old way;
every row written after this revision is format 2 and is never read the old way.

Referrals withdrawn after the partner had opened them kept their keys; they are shredded now like
cancelled ones (sealed keys, packet, files and feedback texts). That cannot be undone.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY_FORMAT = 1
# (table, column)
FORMAT_COLUMNS = (
    ("case_message", "crypto_format"),
    ("case_note", "crypto_format"),
    ("attachment", "crypto_format"),
    ("assessment", "notes_format"),
)


def upgrade() -> None:
    for table, column in FORMAT_COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(column, sa.SmallInteger(), nullable=False, server_default="2"))
        # Names from the constant above, never input.
        op.execute(sa.text(f"UPDATE {table} SET {column} = :legacy").bindparams(legacy=LEGACY_FORMAT))  # noqa: S608
    op.execute("DELETE FROM referral_file WHERE referral_id IN (SELECT id FROM referral WHERE state = 'withdrawn')")
    op.execute(
        "UPDATE referral_update SET ciphertext = NULL"
        " WHERE referral_id IN (SELECT id FROM referral WHERE state = 'withdrawn')"
    )
    op.execute(
        "UPDATE referral SET sealed_key_partner = NULL, sealed_key_office = NULL, packet_ciphertext = NULL"
        " WHERE state = 'withdrawn'"
    )


def downgrade() -> None:
    # Shredded referrals stay shredded.
    for table, column in reversed(FORMAT_COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
