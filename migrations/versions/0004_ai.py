"""AI chat: context turns and summaries (encrypted, 24 h), preferences, own API keys, usage,
the free daily allowance and operator defaults.

Revision ID: 0004_ai
Revises: 0001_foundation
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_ai"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("ai",)
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ai_defaults",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_ai_defaults")),
    )
    op.create_table(
        "ai_allowance",
        sa.Column("user_id", BIGINT, autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("used", BIGINT, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_ai_allowance_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "day", name=op.f("pk_ai_allowance")),
    )
    with op.batch_alter_table("ai_allowance", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ai_allowance_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "ai_keys",
        sa.Column("user_id", BIGINT, autoincrement=False, nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ai_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "provider", name=op.f("pk_ai_keys")),
    )
    op.create_table(
        "ai_preferences",
        sa.Column("user_id", BIGINT, autoincrement=False, nullable=False),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("persona", sa.String(length=32), nullable=True),
        sa.Column("custom_persona", sa.Text(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_ai_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_ai_preferences")),
    )
    op.create_table(
        "ai_summaries",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("covers_to", BIGINT, nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tokens", BIGINT, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_ai_summaries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_summaries")),
    )
    with op.batch_alter_table("ai_summaries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ai_summaries_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index("ix_ai_summaries_user_scope", ["user_id", "scope"], unique=False)

    op.create_table(
        "ai_turns",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tokens", BIGINT, nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ai_turns_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_turns")),
    )
    with op.batch_alter_table("ai_turns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ai_turns_exchange"), ["exchange"], unique=False)
        batch_op.create_index(batch_op.f("ix_ai_turns_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(
            "ix_ai_turns_user_scope_created", ["user_id", "scope", "created_at"], unique=False
        )

    op.create_table(
        "ai_usage",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("payer", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reserved", BIGINT, nullable=False),
        sa.Column("input_tokens", BIGINT, nullable=False),
        sa.Column("output_tokens", BIGINT, nullable=False),
        sa.Column("cost", BIGINT, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ai_usage_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_usage")),
        sa.UniqueConstraint("ref", name=op.f("uq_ai_usage_ref")),
    )
    with op.batch_alter_table("ai_usage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ai_usage_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "ai_usage_daily",
        sa.Column("user_id", BIGINT, autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("replies", BIGINT, nullable=False),
        sa.Column("input_tokens", BIGINT, nullable=False),
        sa.Column("output_tokens", BIGINT, nullable=False),
        sa.Column("cost", BIGINT, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_ai_usage_daily_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "day", "model", name=op.f("pk_ai_usage_daily")),
    )


def downgrade() -> None:
    op.drop_table("ai_usage_daily")
    with op.batch_alter_table("ai_usage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ai_usage_expires_at"))

    op.drop_table("ai_usage")
    with op.batch_alter_table("ai_turns", schema=None) as batch_op:
        batch_op.drop_index("ix_ai_turns_user_scope_created")
        batch_op.drop_index(batch_op.f("ix_ai_turns_expires_at"))
        batch_op.drop_index(batch_op.f("ix_ai_turns_exchange"))

    op.drop_table("ai_turns")
    with op.batch_alter_table("ai_summaries", schema=None) as batch_op:
        batch_op.drop_index("ix_ai_summaries_user_scope")
        batch_op.drop_index(batch_op.f("ix_ai_summaries_expires_at"))

    op.drop_table("ai_summaries")
    op.drop_table("ai_preferences")
    op.drop_table("ai_keys")
    with op.batch_alter_table("ai_allowance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ai_allowance_expires_at"))

    op.drop_table("ai_allowance")
    op.drop_table("ai_defaults")
