"""Settings section for the concierge: composed into ``bot.settings.Settings`` as
``settings.concierge`` (environment ``CONCIERGE__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ConciergeSettings(BaseModel):
    """Limits of personas, templates, drafts and what a session keeps."""

    max_price: int = Field(default=1000, ge=1)
    """Highest price in credits per user message a persona may have."""

    templates_shown: int = Field(default=6, ge=0, le=20)
    """Template buttons under each relayed user message (the newest first)."""

    draft_context: int = Field(default=12, ge=1, le=100)
    """Relayed messages of the session given to the AI for a draft (the latest ones)."""

    draft_max_tokens: int = Field(default=400, ge=16)

    session_hours: float = Field(default=24.0, gt=0, le=24)
    """A session and its relayed messages are purged this long after the last message or the
    close (at most 24 hours: they are personal)."""

    queue_shown: int = Field(default=20, ge=1, le=50)
    """Sessions listed in the staff's unanswered queue (longest waiting first)."""
