"""Server signing keys (OpenPGP).

The secret key is field-encrypted (purpose ``server-key``, bound to the row's fingerprint); it is
``None`` when the key lives in a GnuPG keyring, gpg-agent or smartcard. Retired keys stay so that
old records still verify.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, str_enum, utcnow
from bot.db.encrypted import encrypted


class ServerKeyStatus(enum.StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class ServerKey(Base):
    __tablename__ = "crypto_server_keys"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[str] = mapped_column(Text)
    secret_key: Mapped[str | None] = mapped_column(
        Text, default=None, info=encrypted("server-key", bind=("fingerprint",))
    )
    # Field-encrypted passphrase of ``secret_key``; None when the operator supplies it in settings.
    passphrase: Mapped[str | None] = mapped_column(
        Text, default=None, info=encrypted("server-key-passphrase", bind=("fingerprint",))
    )
    status: Mapped[ServerKeyStatus] = mapped_column(str_enum(ServerKeyStatus), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)
