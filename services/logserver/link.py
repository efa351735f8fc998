"""A log server's link to its group, kept encrypted: the chat id and title (field-encrypted,
decrypted once per process), the lookup hash that finds a group, and its topics."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.logserver import LogServer
from services.crypto.fields import FieldCipher
from services.crypto.user_key_store import open_user_key
from services.logserver.types import RecordKind

PURPOSE_LINK = "logserver-group-link"
PURPOSE_CHAT_HASH = "logserver-chat-id"


class AlreadyLinked(Exception):
    """The group is already the log server of another account."""


def thread_of(server: LogServer, kind: RecordKind) -> int | None:
    return {
        RecordKind.CHAT: server.thread_chat,
        RecordKind.BILLING: server.thread_billing,
        RecordKind.AUDIT: server.thread_audit,
        RecordKind.SYSTEM: server.thread_system,
        RecordKind.ROOMS: server.thread_rooms,
        RecordKind.CONCIERGE: server.thread_concierge,
    }[kind]


def set_thread(server: LogServer, kind: RecordKind, thread_id: int | None) -> None:
    setattr(server, f"thread_{kind.value}", thread_id)


class GroupLinks:
    """Part of `LogServerService`: the encrypted link (needs `fields` and `_chat_cache`)."""

    fields: FieldCipher
    _chat_cache: dict[str, tuple[int, str]]

    def chat_hash(self, chat_id: int) -> str:
        return self.fields.lookup_hash(PURPOSE_CHAT_HASH, chat_id)

    def encrypt_link(self, user_id: int, chat_id: int, title: str) -> str:
        doc = json.dumps({"chat_id": chat_id, "title": title}, ensure_ascii=False)
        return self.fields.encrypt(PURPOSE_LINK, doc, row_id=user_id)

    def public_key_of(self, server: LogServer) -> str | None:
        """The user's armored public key (stored field-encrypted)."""
        if server.public_key is None:
            return None
        return open_user_key(self.fields, server.user_id, server.public_key)

    def chat_of(self, server: LogServer) -> tuple[int, str]:
        """The group's chat id and title, decrypted (cached per ciphertext)."""
        cached = self._chat_cache.get(server.chat_enc)
        if cached is not None:
            return cached
        doc = json.loads(
            self.fields.decrypt_str(PURPOSE_LINK, server.chat_enc, row_id=server.user_id)
        )
        value = (int(doc["chat_id"]), str(doc["title"]))
        if len(self._chat_cache) > 10_000:
            self._chat_cache.clear()
        self._chat_cache[server.chat_enc] = value
        return value

    async def by_chat(self, session: AsyncSession, chat_id: int) -> LogServer | None:
        hashes = self.fields.lookup_hashes(PURPOSE_CHAT_HASH, chat_id)
        return await session.scalar(select(LogServer).where(LogServer.chat_hash.in_(hashes)))
