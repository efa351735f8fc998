"""Log server: the user's public key field-encrypted at rest (no user ids in clear).

``log_servers.public_key`` keeps its type; its values become field-encryption tokens bound to the
user id (services/crypto/user_key_store.py). Rows written before hold armored text: they are
encrypted here with the master key the application passes in (``field_cipher``), or, when run
from the alembic command line, with the one the settings name.

Revision ID: 0008_keyenc
Revises: 0003_logserver
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.crypto.fields import FieldCipher
from services.crypto.user_key_store import is_sealed, open_user_key, seal_user_key

revision: str = "0008_keyenc"
down_revision: str | Sequence[str] | None = "0003_logserver"
branch_labels: str | Sequence[str] | None = ("keyenc",)
depends_on: str | Sequence[str] | None = None


def _cipher() -> FieldCipher:
    given = op.get_context().config.attributes.get("field_cipher")
    if isinstance(given, FieldCipher):
        return given
    from bot.settings import Settings

    return FieldCipher.from_settings(Settings().crypto)


def _rows() -> list[tuple[int, str]]:
    result = op.get_bind().execute(
        sa.text("SELECT user_id, public_key FROM log_servers WHERE public_key IS NOT NULL")
    )
    return [(int(user_id), str(key)) for user_id, key in result]


def _store(user_id: int, value: str) -> None:
    op.get_bind().execute(
        sa.text("UPDATE log_servers SET public_key = :value WHERE user_id = :user_id"),
        {"value": value, "user_id": user_id},
    )


def upgrade() -> None:
    legacy = [(user_id, key) for user_id, key in _rows() if not is_sealed(key)]
    if not legacy:
        return
    cipher = _cipher()
    for user_id, key in legacy:
        _store(user_id, seal_user_key(cipher, user_id, key))


def downgrade() -> None:
    sealed = [(user_id, key) for user_id, key in _rows() if is_sealed(key)]
    if not sealed:
        return
    cipher = _cipher()
    for user_id, key in sealed:
        _store(user_id, open_user_key(cipher, user_id, key))
