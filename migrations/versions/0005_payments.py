"""Stars payments: payments and subscriptions (ids, amounts, states, times).

Revision ID: 0005_payments
Revises: 0001_foundation
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_payments"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("payments",)
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("charge_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=16), nullable=False),
        sa.Column("item_version", sa.String(length=8), nullable=False),
        sa.Column("stars", BIGINT, nullable=False),
        sa.Column("credits", BIGINT, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("credits_reversed", BIGINT, nullable=False),
        sa.Column("refund_source", sa.String(length=16), nullable=True),
        sa.Column("refund_requested_at", TS, nullable=True),
        sa.Column("subscription_charge_id", sa.String(length=128), nullable=True),
        sa.Column("subscription_expires_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("refunded_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_payments_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("charge_id", name=op.f("uq_payments_charge_id")),
    )
    op.create_index(op.f("ix_payments_user_id"), "payments", ["user_id"])
    op.create_index(op.f("ix_payments_created_at"), "payments", ["created_at"])

    op.create_table(
        "payment_subscriptions",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("plan_id", sa.String(length=16), nullable=False),
        sa.Column("charge_id", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_payment_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_subscriptions")),
        sa.UniqueConstraint("user_id", "plan_id", name="uq_payment_subscriptions_user"),
    )
    op.create_index(
        op.f("ix_payment_subscriptions_expires_at"), "payment_subscriptions", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_table("payment_subscriptions")
    op.drop_table("payments")
