"""Payments: a charge is recorded before it is credited (`credited_at`), a charge that does not
match the catalogue is kept flagged for an operator (`flag`), and where it came from (`source`:
the `successful_payment` update or reconciliation). Charge ids are stored whole up to 1,024
characters (they were cut off at 128 with a database error).

Revision ID: 0009_paycharge
Revises: 0005_payments
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_paycharge"
down_revision: str | Sequence[str] | None = "0005_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
WIDE = sa.String(length=1024)
NARROW = sa.String(length=128)


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("credited_at", TS, nullable=True))
        batch.add_column(sa.Column("flag", sa.String(length=16), nullable=True))
        batch.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="update")
        )
        batch.alter_column("charge_id", type_=WIDE, existing_type=NARROW, existing_nullable=False)
        batch.alter_column(
            "subscription_charge_id", type_=WIDE, existing_type=NARROW, existing_nullable=True
        )
    # Every payment recorded before this revision was credited in the same transaction.
    op.execute("UPDATE payments SET credited_at = created_at")
    with op.batch_alter_table("payment_subscriptions") as batch:
        batch.alter_column("charge_id", type_=WIDE, existing_type=NARROW, existing_nullable=False)
    with op.batch_alter_table("credit_movements") as batch:
        batch.alter_column("ref", type_=WIDE, existing_type=NARROW, existing_nullable=True)


def downgrade() -> None:
    # Refs and charge ids longer than 128 characters cannot go back: refuse rather than cut.
    with op.batch_alter_table("credit_movements") as batch:
        batch.alter_column("ref", type_=NARROW, existing_type=WIDE, existing_nullable=True)
    with op.batch_alter_table("payment_subscriptions") as batch:
        batch.alter_column("charge_id", type_=NARROW, existing_type=WIDE, existing_nullable=False)
    with op.batch_alter_table("payments") as batch:
        batch.alter_column(
            "subscription_charge_id", type_=NARROW, existing_type=WIDE, existing_nullable=True
        )
        batch.alter_column("charge_id", type_=NARROW, existing_type=WIDE, existing_nullable=False)
        batch.drop_column("source")
        batch.drop_column("flag")
        batch.drop_column("credited_at")
