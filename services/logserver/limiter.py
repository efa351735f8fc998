"""Telegram's flood limits on our side: sliding windows per group and overall.

A send takes a slot when it starts; when Telegram answers, the slot's time moves to the moment of
the answer, which is never earlier than the moment Telegram counted it. So the windows we keep
always cover Telegram's, and a well-behaved worker never sees a 429.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class Slot:
    __slots__ = ("at", "chat_id", "done")

    def __init__(self, chat_id: int, at: float) -> None:
        self.chat_id = chat_id
        self.at = at
        self.done = False


class RateLimiter:
    def __init__(
        self,
        *,
        group_per_minute: int,
        global_per_second: int,
        margin: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.group_limit = group_per_minute
        self.group_window = 60.0 + margin
        self.global_limit = global_per_second
        self.global_window = 1.0 + margin
        self.clock = clock
        self._groups: dict[int, deque[Slot]] = {}
        self._global: deque[Slot] = deque()
        self._blocked: dict[int, float] = {}

    @staticmethod
    def _expire(window: deque[Slot], before: float) -> None:
        # A send in flight always counts: Telegram may count it later than we started it.
        # Slots are appended in start order but their times move on completion: scan all.
        if window and any(s.done and s.at <= before for s in window):
            kept = [s for s in window if not s.done or s.at > before]
            window.clear()
            window.extend(kept)

    def group_free(self, chat_id: int) -> int:
        """Messages that may go to `chat_id` right now (0 while blocked after a 429)."""
        now = self.clock()
        if self._blocked.get(chat_id, 0.0) > now:
            return 0
        window = self._groups.get(chat_id)
        if window is None:
            return self.group_limit
        self._expire(window, now - self.group_window)
        if not window:
            del self._groups[chat_id]
            return self.group_limit
        return max(0, self.group_limit - len(window))

    def global_free(self) -> int:
        now = self.clock()
        if self._blocked.get(0, 0.0) > now:
            return 0
        self._expire(self._global, now - self.global_window)
        return max(0, self.global_limit - len(self._global))

    def next_free_at(self, chat_id: int) -> float:
        """When `chat_id` will have a free slot (now when it has one)."""
        now = self.clock()
        times = [now]
        blocked = self._blocked.get(chat_id, 0.0)
        if blocked > now:
            times.append(blocked)
        window = self._groups.get(chat_id)
        if window is not None and len(window) >= self.group_limit:
            ordered = sorted(s.at for s in window)
            times.append(ordered[len(window) - self.group_limit] + self.group_window)
        return max(times)

    def global_next_free_at(self) -> float:
        now = self.clock()
        times = [now, self._blocked.get(0, 0.0)]
        if len(self._global) >= self.global_limit:
            ordered = sorted(s.at for s in self._global)
            times.append(ordered[len(self._global) - self.global_limit] + self.global_window)
        return max(times)

    def take(self, chat_id: int) -> Slot:
        """Count one message to `chat_id` (call only after `group_free`/`global_free` allowed)."""
        slot = Slot(chat_id, self.clock())
        self._groups.setdefault(chat_id, deque()).append(slot)
        self._global.append(slot)
        return slot

    def done(self, slot: Slot) -> None:
        """Telegram answered: the slot counts from now."""
        slot.at = max(slot.at, self.clock())
        slot.done = True

    def block(self, chat_id: int, seconds: float) -> None:
        """Telegram said `retry_after` for this chat (0: for the whole bot)."""
        until = self.clock() + seconds
        self._blocked[chat_id] = max(self._blocked.get(chat_id, 0.0), until)
