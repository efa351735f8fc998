"""Credit movements: ids and amounts only.

`users.credits` always equals the sum of a user's rows here.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import CHARGE_ID_LENGTH, Base, str_enum, utcnow


class MovementKind(enum.StrEnum):
    PURCHASE = "purchase"
    RENEWAL = "renewal"
    REFUND = "refund"
    USAGE = "usage"
    RESERVE = "reserve"
    RELEASE = "release"
    GRANT = "grant"
    DEDUCT = "deduct"


class CreditMovement(Base):
    __tablename__ = "credit_movements"
    # A reference (charge id, reply id...) can move credits once per kind: redelivered updates
    # and retried jobs cannot double-count.
    __table_args__ = (UniqueConstraint("kind", "ref", name="uq_credit_movements_kind_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    delta: Mapped[int]
    kind: Mapped[MovementKind] = mapped_column(str_enum(MovementKind))
    ref: Mapped[str | None] = mapped_column(String(CHARGE_ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
