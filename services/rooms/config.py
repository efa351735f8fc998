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

    group_per_minute: int = Field(default=20, ge=1)
    """Messages (edits count) Telegram allows a bot per group and minute."""

    group_reserve: int = Field(default=4, ge=0)
    """Slots of that minute kept free for other messages (panels, refusals) besides what every
    queued answer must still send; streaming updates beyond are skipped, never the answers."""

    budget_steps: tuple[int, ...] = (0, 50, 200, 1000, 5000)
    """Choices offered in the panel for the room's daily budget and the per-member cap (credits;
    0 means no limit)."""

    quota_steps: tuple[int, ...] = (0, 1, 3, 10)
    """Choices offered for the Guests' daily quota (questions)."""
