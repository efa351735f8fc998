"""One answer at a time per room: a group allows the bot about 20 messages a minute (edits
count), so several people asking at once wait their turn, first come first served, and see a
"waiting" note instead of drawing 429s. In-process: with several instances each keeps its own
order, and the one send budget (every Bot API call goes through it) still bounds the total."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from services.ai.stream import Markup, Sender


class RoomQueue:
    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._queued: dict[int, int] = {}

    def ahead(self, key: int) -> int:
        """Answers running or waiting in this room now."""
        return self._queued.get(key, 0)

    @asynccontextmanager
    async def turn(self, key: int) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._queued[key] = self._queued.get(key, 0) + 1
        try:
            async with lock:  # asyncio.Lock wakes its waiters in arrival order
                yield
        finally:
            left = self._queued[key] - 1
            if left:
                self._queued[key] = left
            else:
                self._queued.pop(key, None)
                if not lock.locked():
                    self._locks.pop(key, None)


class SendWindow:
    """What the rooms feature itself sent into each group in the last minute (sends and edits
    count alike, as on Telegram). It decides nothing about *when* a call goes out — the one send
    budget does — only whether an optional streaming update is worth spending a slot on."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sent: dict[int, deque[float]] = {}

    def record(self, chat_id: int) -> None:
        self._sent.setdefault(chat_id, deque()).append(self._clock())

    def count(self, chat_id: int) -> int:
        window = self._sent.get(chat_id)
        if window is None:
            return 0
        cutoff = self._clock() - 60.0
        while window and window[0] <= cutoff:
            window.popleft()
        if not window:
            self._sent.pop(chat_id, None)
            return 0
        return len(window)


class CountingSender:
    """Records every message and edit into the room's chat in the ``SendWindow``."""

    def __init__(self, inner: Sender, window: SendWindow) -> None:
        self.inner = inner
        self.window = window

    async def send_draft(
        self, chat_id: int, draft_id: int, text: str, *, html: bool, thread_id: int | None
    ) -> None:
        await self.inner.send_draft(chat_id, draft_id, text, html=html, thread_id=thread_id)

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        html: bool,
        thread_id: int | None,
        reply_to: int | None,
        markup: Markup | None,
    ) -> int:
        self.window.record(chat_id)
        return await self.inner.send_message(
            chat_id, text, html=html, thread_id=thread_id, reply_to=reply_to, markup=markup
        )

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, *, html: bool, markup: Markup | None
    ) -> None:
        self.window.record(chat_id)
        await self.inner.edit_message(chat_id, message_id, text, html=html, markup=markup)

    async def send_chat_action(self, chat_id: int, *, thread_id: int | None) -> None:
        await self.inner.send_chat_action(chat_id, thread_id=thread_id)


class ThinningSender:
    """Skips an intermediate streaming edit (recognised by the stop button it carries) when the
    group's minute is nearly spent: the slots left are kept for what must arrive — the first
    text, the final answers of everyone queued, "waiting" notes. The presenter treats a skipped
    edit as shown; the final edit always goes out."""

    def __init__(
        self,
        inner: Sender,
        *,
        optional: Markup | None,
        room_left: Callable[[], bool],
    ) -> None:
        self.inner = inner
        self.optional = optional
        self.room_left = room_left
        self.skipped = 0

    async def send_draft(
        self, chat_id: int, draft_id: int, text: str, *, html: bool, thread_id: int | None
    ) -> None:
        await self.inner.send_draft(chat_id, draft_id, text, html=html, thread_id=thread_id)

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        html: bool,
        thread_id: int | None,
        reply_to: int | None,
        markup: Markup | None,
    ) -> int:
        return await self.inner.send_message(
            chat_id, text, html=html, thread_id=thread_id, reply_to=reply_to, markup=markup
        )

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, *, html: bool, markup: Markup | None
    ) -> None:
        if markup is not None and markup is self.optional and not self.room_left():
            self.skipped += 1
            return
        await self.inner.edit_message(chat_id, message_id, text, html=html, markup=markup)

    async def send_chat_action(self, chat_id: int, *, thread_id: int | None) -> None:
        await self.inner.send_chat_action(chat_id, thread_id=thread_id)
