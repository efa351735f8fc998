"""Admin panel: audit events, broadcasts, daily aggregates, users.username_hash.

Revision ID: 0006_admin
Revises: 0001_foundation
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_admin"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("admin",)
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_hash", sa.String(length=64), nullable=True))
        batch.create_index(op.f("ix_users_username_hash"), ["username_hash"])

    op.create_table(
        "admin_audit_events",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("actor_id", BIGINT, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("posted_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit_events")),
    )
    op.create_index(op.f("ix_admin_audit_events_expires_at"), "admin_audit_events", ["expires_at"])
    op.create_index(op.f("ix_admin_audit_events_posted_at"), "admin_audit_events", ["posted_at"])

    op.create_table(
        "admin_audit_chain",
        sa.Column("id", BIGINT, autoincrement=False, nullable=False),
        sa.Column("seq", BIGINT, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit_chain")),
    )

    op.create_table(
        "admin_broadcasts",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("admin_id", BIGINT, nullable=False),
        sa.Column("progress_chat_id", BIGINT, nullable=False),
        sa.Column("progress_message_id", BIGINT, nullable=True),
        sa.Column("progress_locale", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("audience_value", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", BIGINT, nullable=False),
        sa.Column("lease_owner", sa.String(length=32), nullable=True),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_broadcasts")),
    )
    op.create_index(op.f("ix_admin_broadcasts_status"), "admin_broadcasts", ["status"])
    op.create_index(op.f("ix_admin_broadcasts_expires_at"), "admin_broadcasts", ["expires_at"])

    op.create_table(
        "admin_broadcast_recipients",
        sa.Column("broadcast_id", BIGINT, nullable=False),
        sa.Column("user_id", BIGINT, autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["admin_broadcasts.id"],
            name=op.f("fk_admin_broadcast_recipients_broadcast_id_admin_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "broadcast_id", "user_id", name=op.f("pk_admin_broadcast_recipients")
        ),
    )
    op.create_index(
        "ix_admin_broadcast_recipients_state",
        "admin_broadcast_recipients",
        ["broadcast_id", "state"],
    )

    op.create_table(
        "admin_daily_stats",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("active_users", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_admin_daily_stats")),
    )


def downgrade() -> None:
    op.drop_table("admin_daily_stats")
    op.drop_table("admin_broadcast_recipients")
    op.drop_table("admin_broadcasts")
    op.drop_table("admin_audit_chain")
    op.drop_table("admin_audit_events")
    with op.batch_alter_table("users") as batch:
        batch.drop_index(op.f("ix_users_username_hash"))
        batch.drop_column("username_hash")
