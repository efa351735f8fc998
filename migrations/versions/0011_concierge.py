"""Concierge: personas, the staff desk, sessions (24 h), relayed messages (24 h, encrypted) and
reply templates.

Revision ID: 0011_concierge
Revises: 0001_foundation
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_concierge"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("concierge",)
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "concierge_personas",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("avatar_file_id", sa.String(length=256), nullable=True),
        sa.Column("price", BIGINT, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concierge_personas")),
    )
    op.create_table(
        "concierge_desk",
        sa.Column("id", BIGINT, autoincrement=False, nullable=False),
        sa.Column("chat_key", sa.String(length=64), nullable=False),
        sa.Column("chat_enc", sa.Text(), nullable=False),
        sa.Column("linked_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concierge_desk")),
        sa.UniqueConstraint("chat_key", name=op.f("uq_concierge_desk_chat_key")),
    )
    op.create_table(
        "concierge_templates",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concierge_templates")),
    )
    op.create_table(
        "concierge_sessions",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("persona_id", BIGINT, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("thread_id", BIGINT, nullable=True),
        sa.Column("shown", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", BIGINT, nullable=True),
        sa.Column("name_enc", sa.Text(), nullable=True),
        sa.Column("waiting_since", TS, nullable=True),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["claimed_by"],
            ["users.id"],
            name=op.f("fk_concierge_sessions_claimed_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["persona_id"],
            ["concierge_personas.id"],
            name=op.f("fk_concierge_sessions_persona_id_concierge_personas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_concierge_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concierge_sessions")),
    )
    with op.batch_alter_table("concierge_sessions", schema=None) as batch_op:
        for column in ("claimed_by", "expires_at", "persona_id", "thread_id", "user_id"):
            batch_op.create_index(
                batch_op.f(f"ix_concierge_sessions_{column}"), [column], unique=False
            )
    op.create_table(
        "concierge_relays",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("session_id", BIGINT, nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source_id", BIGINT, nullable=True),
        sa.Column("copy_id", BIGINT, nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["concierge_sessions.id"],
            name=op.f("fk_concierge_relays_session_id_concierge_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concierge_relays")),
        sa.UniqueConstraint(
            "session_id", "direction", "source_id", name="uq_concierge_relays_session_id"
        ),
    )
    with op.batch_alter_table("concierge_relays", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_concierge_relays_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_concierge_relays_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("concierge_relays")
    op.drop_table("concierge_sessions")
    op.drop_table("concierge_templates")
    op.drop_table("concierge_desk")
    op.drop_table("concierge_personas")
