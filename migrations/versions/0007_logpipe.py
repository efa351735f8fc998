"""Log server: records stored before `QUEUED`, sealed at delivery; chain head and panel head.

The outbox keeps each record's body field-encrypted (`body_enc`) until delivery seals it;
`armored` (ciphertext sealed by older versions) becomes optional. The per-row lease gives way to
one delivery lease per log server (the chain is sealed in order, one worker at a time).

Revision ID: 0007_logpipe
Revises: 0003_logserver
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_logpipe"
down_revision: str | Sequence[str] | None = "0003_logserver"
branch_labels: str | Sequence[str] | None = ("logpipe",)
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("log_servers") as batch:
        batch.add_column(sa.Column("head_seq", BIGINT, nullable=True))
        batch.add_column(sa.Column("panel_seq", BIGINT, nullable=True))
        batch.add_column(sa.Column("delivery_lease", TS, nullable=True))
    with op.batch_alter_table("log_outbox") as batch:
        batch.add_column(sa.Column("body_enc", sa.Text(), nullable=True))
        batch.alter_column("armored", existing_type=sa.Text(), nullable=True)
        batch.drop_column("lease_until")


def downgrade() -> None:
    # Rows not sealed yet cannot go back to the old shape (it needs ciphertext).
    op.execute(sa.text("DELETE FROM log_outbox WHERE armored IS NULL"))
    with op.batch_alter_table("log_outbox") as batch:
        batch.add_column(sa.Column("lease_until", TS, nullable=True))
        batch.alter_column("armored", existing_type=sa.Text(), nullable=False)
        batch.drop_column("body_enc")
    with op.batch_alter_table("log_servers") as batch:
        batch.drop_column("delivery_lease")
        batch.drop_column("panel_seq")
        batch.drop_column("head_seq")
