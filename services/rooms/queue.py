"""One answer at a time per room: a group allows the bot about 20 messages a minute (edits
count), so several people asking at once wait their turn, first come first served, and see a
"waiting" note instead of drawing 429s. In-process: with several instances each keeps its own
order, and the one send budget (every Bot API call goes through it) still bounds the total."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


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
