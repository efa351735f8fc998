"""The emulator's clock: wall time plus an offset that tests move forward."""

from __future__ import annotations

import time


class Clock:
    """Message dates, the 48 h deletion rule and flood windows all read this clock.

    ``advance(seconds)`` moves it forward; ``freeze()`` stops real time from flowing so that
    rate-limit windows become fully deterministic (only ``advance`` moves it then).
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen_at: float | None = None

    def now(self) -> float:
        if self._frozen_at is not None:
            return self._frozen_at + self._offset
        return time.time() + self._offset

    def timestamp(self) -> int:
        """Unix time as Telegram puts it in ``date`` fields."""
        return int(self.now())

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds

    def freeze(self) -> None:
        if self._frozen_at is None:
            self._frozen_at = time.time()

    def unfreeze(self) -> None:
        if self._frozen_at is not None:
            self._offset += self._frozen_at - time.time()
            self._frozen_at = None
