"""The user: the one row Libral keeps for as long as the account exists."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, str_enum, utcnow
from bot.db.encrypted import Rehash, lookup_hash


class UserRole(enum.StrEnum):
    USER = "user"
    ADMIN = "admin"
    # Answers as concierge personas from the staff desk (services/concierge); granted by operators.
    STAFF = "staff"


class UserStatus(enum.StrEnum):
    ACTIVE = "active"
    BANNED = "banned"
    BLOCKED_BOT = "blocked_bot"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("credits >= 0", name="credits_not_negative"),)

    # Telegram user id; the only identifier kept (no names, no username in clear).
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # The language the user chose (None: never chose one).
    locale: Mapped[str | None] = mapped_column(String(8), default=None)
    # The language the bot speaks to a user who never chose one: their Telegram app's language
    # when supported, else the default; refreshed when they are seen. Broadcasts by language and
    # the operator's user card read `effective_locale`, so they agree with what the user sees.
    derived_locale: Mapped[str | None] = mapped_column(String(8), default=None)
    role: Mapped[UserRole] = mapped_column(
        str_enum(UserRole),
        default=UserRole.USER,
    )
    status: Mapped[UserStatus] = mapped_column(
        str_enum(UserStatus),
        default=UserStatus.ACTIVE,
    )
    credits: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Keyed hash (HMAC) of the lowercase @username, for admin look-ups; never the name itself.
    # Rewritten when the user next writes after a master-key rotation (the name is not stored).
    username_hash: Mapped[str | None] = mapped_column(
        String(64),
        default=None,
        index=True,
        info=lookup_hash("admin.username", rehash=Rehash.ON_CONTACT, seen="last_seen_at"),
    )

    @property
    def is_banned(self) -> bool:
        return self.status is UserStatus.BANNED

    def effective_locale(self, default: str) -> str:
        return self.locale or self.derived_locale or default
