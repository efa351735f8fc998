"""Settings section ``settings.retention`` (environment ``RETENTION__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RetentionSettings(BaseModel):
    """How often the purge runs and how hard it works on each table."""

    # Every personal temporary row is gone at most `purge_interval_seconds` after it expires.
    purge_interval_seconds: int = Field(default=300, ge=10, le=3600)
    # Rows deleted per statement: each batch is its own short transaction, so no long locks.
    batch_size: int = Field(default=20_000, ge=100, le=200_000)
    # Optional breather between batches, for operators who favour latency over purge speed.
    pause_between_batches_ms: float = Field(default=0.0, ge=0, le=1000)
    # Also make sure every Redis key under the prefix carries a TTL of at most 24 hours.
    sweep_redis: bool = True
    # How long the /forget confirmation buttons stay valid.
    forget_confirm_seconds: int = Field(default=600, ge=30, le=3600)
