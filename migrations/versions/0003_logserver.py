"""Personal log server: group links and the outbox.

Revision ID: 0003_logserver
Revises: 0001_foundation
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_logserver"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("logserver",)
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "log_servers",
        sa.Column("user_id", BIGINT, autoincrement=False, nullable=False),
        sa.Column("chat_hash", sa.String(length=64), nullable=False),
        sa.Column("chat_enc", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("disconnect_reason", sa.String(length=32), nullable=True),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("thread_chat", BIGINT, nullable=True),
        sa.Column("thread_billing", BIGINT, nullable=True),
        sa.Column("thread_audit", BIGINT, nullable=True),
        sa.Column("thread_system", BIGINT, nullable=True),
        sa.Column("panel_message_id", BIGINT, nullable=True),
        sa.Column("next_seq", BIGINT, nullable=False),
        sa.Column("last_digest", sa.String(length=64), nullable=False),
        sa.Column("last_delivery_at", TS, nullable=True),
        sa.Column("lost_untold", BIGINT, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_log_servers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_log_servers")),
        sa.UniqueConstraint("chat_hash", name=op.f("uq_log_servers_chat_hash")),
    )
    op.create_table(
        "log_outbox",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("seq", BIGINT, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("thread_id", BIGINT, nullable=True),
        sa.Column("armored", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("attempts", BIGINT, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_log_outbox_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_outbox")),
        sa.UniqueConstraint("user_id", "seq", name="uq_log_outbox_user_id_seq"),
    )
    op.create_index(op.f("ix_log_outbox_created_at"), "log_outbox", ["created_at"])


def downgrade() -> None:
    op.drop_table("log_outbox")
    op.drop_table("log_servers")
