"""A room's conversation: who said what, per topic, encrypted at rest and gone within 24 hours.

The same rules as the private context (``services.ai.context``): turns are field-encrypted
(purpose ``room-turn``, bound to the room), carry an ``expires_at`` at most ``hours`` ahead for
the purge, and reads never return an older turn whatever the purge did. Each forum topic is its own
scope (a keyed hash of the chat and topic ids; reads match it under every known master key, as
in ``services.ai.context``). The model sees each question prefixed with the
asker's display name, so it knows who said what; the names live only inside the ciphertext.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.rooms import RoomTurn
from services.ai.context import Scope, Turn
from services.ai.providers.base import Role
from services.crypto.fields import FieldCipher, FieldDecryptError

PURPOSE_TURN = "room-turn"
PURPOSE_SCOPE = "room-scope"
GROUP_INSTRUCTION = (
    " You are in a group chat with several people. Each of their messages starts with the"
    " speaker's display name and a colon; answer the last speaker, and never start your own"
    " answer with a name and a colon."
)

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def spoken(name: str, text: str) -> str:
    """A question as the model sees it."""
    return f"{name}: {text}"


@dataclass(frozen=True, slots=True)
class RoomTurnView:
    id: int
    exchange: str
    author_id: int
    role: Role
    name: str
    text: str
    tokens: int
    created_at: datetime
    expires_at: datetime

    def as_turn(self) -> Turn:
        text = spoken(self.name, self.text) if self.role == "user" else self.text
        return Turn(self.id, self.role, text, self.tokens, self.created_at, self.expires_at)


class RoomContext:
    def __init__(self, cipher: FieldCipher, *, hours: int = 24, clock: Clock = _now) -> None:
        self.cipher = cipher
        self.ttl = timedelta(hours=hours)
        self._clock = clock

    def scope(self, chat_id: int, thread_id: int | None) -> Scope:
        return Scope.hashed(self.cipher, PURPOSE_SCOPE, f"{chat_id}:{thread_id or 0}")

    def _seal(self, room_id: int, name: str, text: str) -> str:
        payload = json.dumps({"n": name, "t": text}, ensure_ascii=False)
        return self.cipher.encrypt(PURPOSE_TURN, payload, row_id=room_id)

    def _open(self, row: RoomTurn) -> RoomTurnView | None:
        try:
            data = json.loads(
                self.cipher.decrypt_str(PURPOSE_TURN, row.content, row_id=row.room_id)
            )
        except (FieldDecryptError, ValueError):
            return None  # unreadable (a retired key): left out, never shown
        role: Role = "assistant" if row.role == "assistant" else "user"
        return RoomTurnView(
            row.id,
            row.exchange,
            row.author_id,
            role,
            str(data.get("n", "")),
            str(data.get("t", "")),
            row.tokens,
            row.created_at,
            row.expires_at,
        )

    async def turns(
        self, session: AsyncSession, room_id: int, scope: Scope, *, before: int | None = None
    ) -> list[RoomTurnView]:
        now = self._clock()
        query = select(RoomTurn).where(
            RoomTurn.room_id == room_id,
            RoomTurn.scope.in_(scope.keys),
            RoomTurn.excluded.is_(False),
            RoomTurn.created_at > now - self.ttl,
            RoomTurn.expires_at > now,
        )
        if before is not None:
            query = query.where(RoomTurn.id < before)
        rows = await session.scalars(query.order_by(RoomTurn.id))
        return [view for row in rows if (view := self._open(row)) is not None]

    async def exchange(
        self, session: AsyncSession, room_id: int, exchange: str
    ) -> list[RoomTurnView]:
        now = self._clock()
        rows = await session.scalars(
            select(RoomTurn)
            .where(
                RoomTurn.room_id == room_id,
                RoomTurn.exchange == exchange,
                RoomTurn.excluded.is_(False),
                RoomTurn.expires_at > now,
            )
            .order_by(RoomTurn.id)
        )
        return [view for row in rows if (view := self._open(row)) is not None]

    async def add_exchange(
        self,
        session: AsyncSession,
        room_id: int,
        scope: Scope,
        exchange: str,
        author_id: int,
        name: str,
        prompt: tuple[str, int],
        reply: tuple[str, int],
    ) -> None:
        now = self._clock()
        for role, speaker, (text, tokens) in (("user", name, prompt), ("assistant", "", reply)):
            session.add(
                RoomTurn(
                    room_id=room_id,
                    scope=scope.key,
                    exchange=exchange,
                    author_id=author_id,
                    role=role,
                    content=self._seal(room_id, speaker, text),
                    tokens=tokens,
                    created_at=now,
                    expires_at=now + self.ttl,
                )
            )
        await session.flush()

    async def replace_reply(
        self, session: AsyncSession, room_id: int, exchange: str, text: str, tokens: int
    ) -> bool:
        """Regenerate: the new answer takes the old one's place (same row, same position)."""
        result = await session.execute(
            update(RoomTurn)
            .where(
                RoomTurn.room_id == room_id,
                RoomTurn.exchange == exchange,
                RoomTurn.role == "assistant",
            )
            .values(content=self._seal(room_id, "", text), tokens=tokens)
        )
        return bool(getattr(result, "rowcount", 0))

    async def exclude(self, session: AsyncSession, room_id: int, exchange: str) -> bool:
        result = await session.execute(
            update(RoomTurn)
            .where(
                RoomTurn.room_id == room_id,
                RoomTurn.exchange == exchange,
                RoomTurn.excluded.is_(False),
            )
            .values(excluded=True)
        )
        return bool(getattr(result, "rowcount", 0))

    async def clear(self, session: AsyncSession, room_id: int, scope: Scope) -> int:
        """``/new``: this topic's conversation is deleted now, not just hidden."""
        result = await session.execute(
            delete(RoomTurn).where(RoomTurn.room_id == room_id, RoomTurn.scope.in_(scope.keys))
        )
        return int(getattr(result, "rowcount", 0) or 0)
