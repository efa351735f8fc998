"""Bring your own key: a user's provider API keys, field-encrypted, bound to user and provider."""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.ai import AIKey
from services.ai.catalogue import ProviderName
from services.crypto.fields import FieldCipher, FieldDecryptError

PURPOSE_KEY = "ai-key"
_KEY_SHAPE = re.compile(r"^[A-Za-z0-9_\-\.]{16,256}$")


def guess_provider(key: str) -> ProviderName | None:
    """Recognise a key by its documented prefix."""
    if key.startswith("sk-ant-"):
        return ProviderName.ANTHROPIC
    if key.startswith("AIza"):
        return ProviderName.GEMINI
    if key.startswith("sk-"):
        return ProviderName.OPENAI
    return None


def plausible(key: str) -> bool:
    return bool(_KEY_SHAPE.match(key))


class KeyStore:
    def __init__(self, cipher: FieldCipher) -> None:
        self.cipher = cipher

    @staticmethod
    def _row_id(user_id: int, provider: ProviderName) -> str:
        return f"{user_id}:{provider.value}"

    async def get(self, session: AsyncSession, user_id: int, provider: ProviderName) -> str | None:
        row = await session.get(AIKey, (user_id, provider.value))
        if row is None:
            return None
        try:
            return self.cipher.decrypt_str(
                PURPOSE_KEY, row.ciphertext, row_id=self._row_id(user_id, provider)
            )
        except FieldDecryptError:
            return None

    async def providers(self, session: AsyncSession, user_id: int) -> set[ProviderName]:
        rows = await session.scalars(select(AIKey.provider).where(AIKey.user_id == user_id))
        return {ProviderName(p) for p in rows if p in set(ProviderName)}

    async def put(
        self, session: AsyncSession, user_id: int, provider: ProviderName, key: str
    ) -> None:
        token = self.cipher.encrypt(PURPOSE_KEY, key, row_id=self._row_id(user_id, provider))
        row = await session.get(AIKey, (user_id, provider.value))
        if row is None:
            session.add(AIKey(user_id=user_id, provider=provider.value, ciphertext=token))
        else:
            row.ciphertext = token
        await session.flush()

    async def remove(
        self, session: AsyncSession, user_id: int, provider: ProviderName | None = None
    ) -> int:
        stmt = delete(AIKey).where(AIKey.user_id == user_id)
        if provider is not None:
            stmt = stmt.where(AIKey.provider == provider.value)
        result = await session.execute(stmt)
        await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
