"""Waiting for an event with a time limit, without losing a cancellation.

On Python 3.11, ``asyncio.wait_for(event.wait(), t)`` swallows a cancellation that arrives just
as the event is set (CPython gh-86296, fixed in 3.12): the cancelled worker returns normally,
loops on, and its ``stop()`` waits for ever. It hung the log delivery worker's shutdown under
load. ``asyncio.timeout`` counts cancellations properly, so every wait of ours goes through here
(tests/unit/test_waiting.py keeps ``asyncio.wait_for`` out of the application).
"""

from __future__ import annotations

import asyncio


async def wait_set(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set, for at most ``timeout`` seconds; True when it is set."""
    try:
        async with asyncio.timeout(max(timeout, 0.0)):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
