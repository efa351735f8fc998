"""Rooms: the chat id, field-encrypted (rooms.chat_enc), so a master-key rotation can recompute
rooms.chat_key. Existing rooms get it when they are next used (the id is not stored before).

Revision ID: 0009_roomchat
Revises: 0007_rooms
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_roomchat"
down_revision: str | Sequence[str] | None = "0007_rooms"
branch_labels: str | Sequence[str] | None = ("roomchat",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rooms") as batch:
        batch.add_column(sa.Column("chat_enc", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rooms") as batch:
        batch.drop_column("chat_enc")
