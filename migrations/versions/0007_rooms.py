"""AI rooms: rooms and their settings, roles, the encrypted room conversation (24 h) and the
day's spending per member.

Revision ID: 0007_rooms
Revises: 0001_foundation
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_rooms"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("rooms",)
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rooms",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("chat_key", sa.String(length=64), nullable=False),
        sa.Column("master_id", BIGINT, nullable=False),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("persona", sa.String(length=32), nullable=True),
        sa.Column("daily_budget", BIGINT, nullable=False),
        sa.Column("member_cap", BIGINT, nullable=False),
        sa.Column("guests_may_ask", sa.Boolean(), nullable=False),
        sa.Column("guest_quota", BIGINT, nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("newcomer_role", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["master_id"], ["users.id"], name=op.f("fk_rooms_master_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rooms")),
        sa.UniqueConstraint("chat_key", name=op.f("uq_rooms_chat_key")),
    )
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rooms_master_id"), ["master_id"], unique=False)

    op.create_table(
        "room_members",
        sa.Column("room_id", BIGINT, autoincrement=False, nullable=False),
        sa.Column("user_id", BIGINT, autoincrement=False, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_room_members_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_room_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_room_members")),
    )

    op.create_table(
        "room_turns",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("room_id", BIGINT, nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("author_id", BIGINT, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tokens", BIGINT, nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_room_turns_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_turns_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_turns")),
    )
    with op.batch_alter_table("room_turns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_turns_author_id"), ["author_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_room_turns_exchange"), ["exchange"], unique=False)
        batch_op.create_index(batch_op.f("ix_room_turns_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(
            "ix_room_turns_room_scope_created", ["room_id", "scope", "created_at"], unique=False
        )

    op.create_table(
        "room_spend",
        sa.Column("room_id", BIGINT, autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", BIGINT, autoincrement=False, nullable=False),
        sa.Column("replies", BIGINT, nullable=False),
        sa.Column("cost", BIGINT, nullable=False),
        sa.Column("reserved", BIGINT, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_spend_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_room_spend_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "day", "user_id", name=op.f("pk_room_spend")),
    )
    with op.batch_alter_table("room_spend", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_spend_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("room_spend")
    op.drop_table("room_turns")
    op.drop_table("room_members")
    op.drop_table("rooms")
