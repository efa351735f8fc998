"""Settings section for AI rooms: composed into ``bot.settings.Settings`` as ``settings.rooms``.

Environment variables use the ``ROOMS__`` prefix, e.g. ``ROOMS__QUEUE_LIMIT``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class RoomsSettings(BaseModel):
    """Defaults for new rooms and the limits of the room queue."""

    guest_quota: int = Field(default=3, ge=0)
    """Questions a Guest may ask per UTC day in a new room (the room may change it)."""

    queue_limit: int = Field(default=8, ge=1)
    """Questions waiting in one room at most; more are refused politely, nothing charged."""

    budget_steps: tuple[int, ...] = (0, 50, 200, 1000, 5000)
    """Choices offered in the panel for the room's daily budget and the per-member cap (credits;
    0 means no limit)."""

    quota_steps: tuple[int, ...] = (0, 1, 3, 10)
    """Choices offered for the Guests' daily quota (questions)."""
