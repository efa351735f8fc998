"""Log server: the Concierge topic for session transcripts (made with the first transcript).

Revision ID: 0011_concierge_log
Revises: 0003_logserver
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_concierge_log"
down_revision: str | Sequence[str] | None = "0003_logserver"
branch_labels: str | Sequence[str] | None = ("concierge_log",)
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("log_servers") as batch:
        batch.add_column(sa.Column("thread_concierge", BIGINT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_servers") as batch:
        batch.drop_column("thread_concierge")
