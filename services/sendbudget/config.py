"""Settings section ``settings.sendbudget`` (environment ``SENDBUDGET__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SendBudgetSettings(BaseModel):
    """Telegram's flood limits as the one send budget applies them to every Bot API call.

    Telegram documents about 1 message a second in one private chat (short bursts tolerated),
    20 a minute in one group and about 30 a second overall; edits count like messages.
    """

    global_per_second: int = Field(default=30, ge=1)
    private_burst: int = Field(default=3, ge=1)
    """A private chat gets bursts of this many messages, then about 1 a second (a token bucket
    refilled every 1 + ``margin`` seconds)."""
    group_per_minute: int = Field(default=20, ge=1)
    margin: float = Field(default=0.1, ge=0)
    """Seconds added to every window: slots count from Telegram's answer, so this only absorbs
    clock jitter between us and Telegram."""
    draft_share: float = Field(default=0.85, gt=0, le=1)
    """Share of the global budget that intermediate stream updates may fill; the rest stays
    free for priority traffic (also from other instances, which queue separately)."""
    bulk_share: float = Field(default=0.7, gt=0, le=1)
    """Share of the global budget that bulk traffic (broadcasts, log batches) may fill."""
    max_retry_wait: float = Field(default=120.0, ge=0)
    """Longest total wait on ``retry_after`` for one call before its 429 is given to the caller."""
    drain_seconds: float = Field(default=15.0, ge=0)
    """At shutdown, how long calls still queued (replies waiting for their chat's slot) may
    take to go out before the bot's session closes."""
    in_flight_seconds: float = Field(default=60.0, gt=0)
    """How long a slot taken by a send that never reported back (a crashed instance) counts."""

    @property
    def bulk_per_second(self) -> int:
        """Messages a second bulk traffic (a broadcast) gets at most."""
        return max(1, int(self.global_per_second * self.bulk_share))
