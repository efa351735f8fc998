"""The conversation context: turns of the last 24 hours, encrypted at rest, trimmed to the window.

- Turns are stored field-encrypted (purpose ``ai-context``, bound to the user) with an
  ``expires_at`` 24 hours after creation; the purge deletes them, and reads never return a turn
  older than ``context_hours`` whatever the purge did.
- A conversation lives in a *scope*: the private chat, or one group topic (a keyed hash of the
  chat and topic ids; the ids themselves are not stored). New rows get the hash under the current
  master key; reads match the hash under every known key, so a conversation goes on across a
  master-key rotation (the hash cannot be recomputed: its rows expire within 24 hours instead).
- ``plan`` fits the context into the model's window with a token estimate. When the history needs
  more than ``summary_trigger_ratio`` of the room, the older turns are summarised once; the
  summary is stored (encrypted) and reused, and expires with the oldest turn it covers, so nothing
  older than 24 hours reaches a model through it either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.ai import AISummary, AITurn
from services.ai.providers.base import ChatMessage, Role
from services.ai.tokens import TokenCounter
from services.crypto.fields import FieldCipher, FieldDecryptError

PURPOSE_TURN = "ai-context"
PURPOSE_SUMMARY = "ai-summary"
PURPOSE_SCOPE = "ai-scope"
PRIVATE_SCOPE = "private"

SUMMARY_INSTRUCTION = (
    "Summarise the conversation so far in at most 200 words, in the language it is written in."
    " Keep names, numbers, decisions, open questions and the user's preferences; drop"
    " pleasantries. Write only the summary."
)
SUMMARY_PREFIX = "Summary of the earlier conversation:\n"
SUMMARY_ROOM = 600
"""Tokens of the window kept free for the summary's instruction and answer."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a conversation lives: ``key`` for new rows, ``keys`` (``key`` first) for reads."""

    key: str
    keys: tuple[str, ...]

    @classmethod
    def hashed(cls, cipher: FieldCipher, purpose: str, value: str) -> Scope:
        return cls(cipher.lookup_hash(purpose, value), tuple(cipher.lookup_hashes(purpose, value)))


PRIVATE = Scope(PRIVATE_SCOPE, (PRIVATE_SCOPE,))


@dataclass(frozen=True, slots=True)
class Turn:
    id: int
    role: Role
    text: str
    tokens: int
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Summary:
    id: int
    covers_to: int
    text: str
    tokens: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Plan:
    messages: list[ChatMessage]
    """What to send (system prompt, summary, turns, the new prompt)."""
    prompt_tokens: int
    to_summarise: list[Turn]
    """Older turns to fold into a new summary first (empty: no summary needed)."""
    summary: Summary | None
    dropped: int
    """Turns left out because even a summary would not make them fit."""


Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class ContextStore:
    def __init__(self, cipher: FieldCipher, *, hours: int = 24, clock: Clock = _now) -> None:
        self.cipher = cipher
        self.ttl = timedelta(hours=hours)
        self._clock = clock

    def scope(self, chat_id: int, thread_id: int | None, *, private: bool) -> Scope:
        if private:
            return PRIVATE
        return Scope.hashed(self.cipher, PURPOSE_SCOPE, f"{chat_id}:{thread_id or 0}")

    # -- reading --------------------------------------------------------------------------
    async def turns(self, session: AsyncSession, user_id: int, scope: Scope) -> list[Turn]:
        now = self._clock()
        rows = await session.scalars(
            select(AITurn)
            .where(
                AITurn.user_id == user_id,
                AITurn.scope.in_(scope.keys),
                AITurn.excluded.is_(False),
                AITurn.created_at > now - self.ttl,
                AITurn.expires_at > now,
            )
            .order_by(AITurn.id)
        )
        out: list[Turn] = []
        for row in rows:
            try:
                text = self.cipher.decrypt_str(PURPOSE_TURN, row.content, row_id=user_id)
            except FieldDecryptError:
                continue  # a value we cannot read (e.g. a retired key) is left out, not shown
            role: Role = "assistant" if row.role == "assistant" else "user"
            out.append(Turn(row.id, role, text, row.tokens, row.created_at, row.expires_at))
        return out

    async def summary(self, session: AsyncSession, user_id: int, scope: Scope) -> Summary | None:
        now = self._clock()
        row = await session.scalar(
            select(AISummary)
            .where(
                AISummary.user_id == user_id,
                AISummary.scope.in_(scope.keys),
                AISummary.expires_at > now,
            )
            .order_by(AISummary.covers_to.desc())
            .limit(1)
        )
        if row is None:
            return None
        try:
            text = self.cipher.decrypt_str(PURPOSE_SUMMARY, row.content, row_id=user_id)
        except FieldDecryptError:
            return None
        return Summary(row.id, row.covers_to, text, row.tokens, row.expires_at)

    # -- writing --------------------------------------------------------------------------
    async def add_exchange(
        self,
        session: AsyncSession,
        user_id: int,
        scope: Scope,
        exchange: str,
        prompt: tuple[str, int],
        reply: tuple[str, int],
    ) -> None:
        now = self._clock()
        for role, (text, tokens) in (("user", prompt), ("assistant", reply)):
            session.add(
                AITurn(
                    user_id=user_id,
                    scope=scope.key,
                    exchange=exchange,
                    role=role,
                    content=self.cipher.encrypt(PURPOSE_TURN, text, row_id=user_id),
                    tokens=tokens,
                    created_at=now,
                    expires_at=now + self.ttl,
                )
            )
        await session.flush()

    async def exclude(self, session: AsyncSession, user_id: int, exchange: str) -> bool:
        """Drop a prompt and its reply from the context (and any summary that covers them);
        committed when True."""
        rows = (
            await session.scalars(
                select(AITurn).where(AITurn.user_id == user_id, AITurn.exchange == exchange)
            )
        ).all()
        if not rows:
            return False
        await session.execute(
            update(AITurn)
            .where(AITurn.user_id == user_id, AITurn.exchange == exchange)
            .values(excluded=True)
        )
        first = min(r.id for r in rows)
        await session.execute(
            delete(AISummary).where(
                AISummary.user_id == user_id,
                AISummary.scope == rows[0].scope,
                AISummary.covers_to >= first,
            )
        )
        await session.commit()
        return True

    async def clear(self, session: AsyncSession, user_id: int, scope: Scope) -> int:
        """``/new``: forget this conversation now (rows deleted, not just hidden; committed)."""
        result = await session.execute(
            delete(AITurn).where(AITurn.user_id == user_id, AITurn.scope.in_(scope.keys))
        )
        await session.execute(
            delete(AISummary).where(AISummary.user_id == user_id, AISummary.scope.in_(scope.keys))
        )
        await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)

    async def save_summary(
        self,
        session: AsyncSession,
        user_id: int,
        scope: Scope,
        text: str,
        tokens: int,
        covered: Sequence[Turn],
        previous: Summary | None,
    ) -> Summary:
        expires = min(t.expires_at for t in covered)
        if previous is not None:
            expires = min(expires, previous.expires_at)
        row = AISummary(
            user_id=user_id,
            scope=scope.key,
            covers_to=max(t.id for t in covered),
            content=self.cipher.encrypt(PURPOSE_SUMMARY, text, row_id=user_id),
            tokens=tokens,
            created_at=self._clock(),
            expires_at=expires,
        )
        session.add(row)
        await session.flush()
        return Summary(row.id, row.covers_to, text, tokens, expires)


def plan(
    *,
    system: str,
    turns: Sequence[Turn],
    summary: Summary | None,
    prompt: str,
    counter: TokenCounter,
    window: int,
    reply_room: int,
    trigger_ratio: float,
) -> Plan:
    """Choose what to send. ``reply_room`` tokens of the window stay free for the answer."""
    fixed = counter.message(system) + counter.message(prompt)
    room = max(0, window - reply_room - fixed)
    if summary is not None and not any(t.id <= summary.covers_to for t in turns):
        summary = None  # what it covered has expired or was excluded
    recent = [t for t in turns if summary is None or t.id > summary.covers_to]
    summary_cost = counter.message(SUMMARY_PREFIX + summary.text) if summary else 0
    history = summary_cost + sum(t.tokens for t in recent)

    to_summarise: list[Turn] = []
    dropped = 0
    if history > room * trigger_ratio and len(recent) > 2:
        # keep the newest turns that fill half the room; fold the older ones into a summary
        keep: list[Turn] = []
        used = 0
        for turn in reversed(recent):
            if used + turn.tokens > room // 2 and len(keep) >= 2:
                break
            keep.append(turn)
            used += turn.tokens
        keep.reverse()
        to_summarise = recent[: len(recent) - len(keep)]
        recent = keep
        # the summary request itself must fit the window: the oldest turns go first
        while to_summarise and sum(t.tokens for t in to_summarise) > max(0, window - SUMMARY_ROOM):
            to_summarise = to_summarise[1:]
            dropped += 1
    # whatever happens to the summary, never exceed the window: drop the oldest turns
    while recent and summary_cost + sum(t.tokens for t in recent) > room:
        recent = recent[1:]
        dropped += 1
    if summary_cost > room:
        summary, summary_cost = None, 0
    messages = [ChatMessage("system", system)]
    if summary is not None:
        messages.append(ChatMessage("system", SUMMARY_PREFIX + summary.text))
    messages.extend(ChatMessage(t.role, t.text) for t in recent)
    messages.append(ChatMessage("user", prompt))
    tokens = fixed + summary_cost + sum(t.tokens for t in recent)
    return Plan(messages, tokens, to_summarise, summary, dropped)


def with_summary(base: Plan, summary: Summary, counter: TokenCounter) -> Plan:
    """The plan again, with a fresh summary in place of the turns it folded."""
    messages = [m for m in base.messages if not m.content.startswith(SUMMARY_PREFIX)]
    messages.insert(1, ChatMessage("system", SUMMARY_PREFIX + summary.text))
    old = base.summary
    old_cost = counter.message(SUMMARY_PREFIX + old.text) if old else 0
    tokens = base.prompt_tokens - old_cost + counter.message(SUMMARY_PREFIX + summary.text)
    return Plan(messages, tokens, [], summary, base.dropped)


def summary_request(turns: Sequence[Turn], previous: Summary | None) -> list[ChatMessage]:
    lines = []
    if previous is not None:
        lines.append(SUMMARY_PREFIX + previous.text)
    lines.extend(f"{t.role}: {t.text}" for t in turns)
    return [
        ChatMessage("system", SUMMARY_INSTRUCTION),
        ChatMessage("user", "\n\n".join(lines)),
    ]
