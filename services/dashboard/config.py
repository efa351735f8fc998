"""Settings section ``settings.dashboard`` (environment ``DASHBOARD__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DashboardSettings(BaseModel):
    """The operators' dashboard Mini App (`/app/dashboard`, opened from `/admin`)."""

    # Each instance publishes what it handled since the last tick, this often (seconds).
    tick_seconds: float = Field(default=2.0, ge=0.05, le=60)
    # Recent audit events listed (action, result and time only).
    audit_events: int = Field(default=15, ge=1, le=100)
    # A comment line on every open event stream this often, so proxies keep it open (seconds).
    heartbeat_seconds: float = Field(default=15.0, ge=0.05, le=120)
