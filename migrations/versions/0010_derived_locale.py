"""Users: the language derived from the Telegram app, for users who never chose one.

Filled as users are seen; until then a row counts as the default language (as before).

Revision ID: 0010_derived_locale
Revises: 0001_foundation
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_derived_locale"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("derived_locale",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("derived_locale", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("derived_locale")
