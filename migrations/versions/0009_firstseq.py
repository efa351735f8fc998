"""Log server: the first seq delivered to the current group, for the signed head's `first`.

A log moved to a new group starts there at a seq above 0; the signed head on the new group's panel
names it, so the reader does not count the records before it (in the old group) as cut off.
Log servers delivered to before this migration keep NULL (read as 0, as before).

Revision ID: 0009_firstseq
Revises: 0007_logpipe
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_firstseq"
down_revision: str | Sequence[str] | None = "0007_logpipe"
branch_labels: str | Sequence[str] | None = ("firstseq",)
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("log_servers") as batch:
        batch.add_column(sa.Column("first_seq", BIGINT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_servers") as batch:
        batch.drop_column("first_seq")
