"""Crypto: server signing keys.

Revision ID: 0002_crypto
Revises: 0001_foundation
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_crypto"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("crypto",)
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crypto_server_keys",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("secret_key", sa.Text(), nullable=True),
        sa.Column("passphrase", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("retired_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crypto_server_keys")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_crypto_server_keys_fingerprint")),
    )
    op.create_index(op.f("ix_crypto_server_keys_status"), "crypto_server_keys", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_crypto_server_keys_status"), table_name="crypto_server_keys")
    op.drop_table("crypto_server_keys")
