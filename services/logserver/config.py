"""Settings section ``settings.logserver`` (environment ``LOGSERVER__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LogServerSettings(BaseModel):
    """Delivery timings of the personal log server (Telegram's limits: ``settings.sendbudget``)."""

    # A group whose queue is longer than its free slots gets its records coalesced into one
    # `.asc` document, up to this many records per document.
    coalesce_max: int = Field(default=100, ge=2)
    # Sends in flight at once (one per group at most).
    concurrency: int = Field(default=16, ge=1)
    # Seconds a claimed outbox row stays reserved for the worker that claimed it.
    lease_seconds: float = Field(default=60.0, gt=0)
    # Timeout of one send to Telegram.
    request_timeout: float = Field(default=20.0, gt=0)
    # Back-off after a 5xx / network error: first delay, doubled up to the maximum.
    backoff_initial: float = Field(default=1.0, gt=0)
    backoff_max: float = Field(default=60.0, gt=0)
    # How often the worker looks at the outbox when nothing wakes it.
    poll_interval: float = Field(default=1.0, gt=0)
    # Undelivered ciphertext older than this is dropped and the user told. Ten minutes short of
    # 24 h, so the worker (which counts and tells) always runs before the retention purge.
    max_age_seconds: float = Field(default=24 * 3600 - 600, gt=0, le=24 * 3600)
    # How long a disconnect or /forget waits for the log server's last records (its own Audit
    # record among them) to go out before the link is removed.
    drain_seconds: float = Field(default=10.0, ge=0)
    # Single-use startgroup tokens live this long.
    token_ttl_seconds: int = Field(default=600, ge=60, le=3600)
