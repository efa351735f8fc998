"""Settings section for AI chat: composed into ``bot.settings.Settings`` as ``settings.ai``.

Environment variables use the ``AI__`` prefix, e.g. ``AI__OPENAI_API_KEY``,
``AI__ANTHROPIC_BASE_URL``, ``AI__DEFAULT_MODEL``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class AISettings(BaseModel):
    """Provider keys, endpoints, limits and the free allowance.

    A provider without a key is hidden from users, except the OpenAI-compatible one (Ollama,
    vLLM, OpenRouter, ...), which is shown when its base URL is set (local servers need no key).
    """

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    """Override for the official OpenAI endpoint (tests point it at a local fake server)."""

    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None

    gemini_api_key: SecretStr | None = None
    gemini_base_url: str | None = None

    compat_api_key: SecretStr | None = None
    """Key for the OpenAI-compatible server, if it wants one (OpenRouter does, Ollama does not)."""
    compat_base_url: str | None = None
    """e.g. ``http://127.0.0.1:11434/v1`` for Ollama, ``http://vllm:8000/v1`` for vLLM."""
    compat_name: str = "Local"
    """Display name of the OpenAI-compatible provider in ``/model``."""

    catalogue_path: str | None = None
    """Optional TOML file replacing the shipped model catalogue (``services/ai/models.toml``)."""

    default_model: str = "gpt-4o-mini"
    """Model for users who have not picked one; the admin may change it at run time."""

    free_daily_credits: int = Field(default=20, ge=0)
    """Credits' worth of replies a user gets free each UTC day before the balance is used
    (1 credit = 0.001 USD of list price, see docs/ai.md; 0 turns the allowance off)."""

    min_reply_tokens: int = Field(default=256, ge=1)
    """Output tokens a "minimal reply" is assumed to need; a reply is refused up front when the
    balance cannot cover the prompt plus this many output tokens."""

    max_reply_tokens: int = Field(default=4096, ge=16)
    """Upper bound on output tokens asked of a model (``max_tokens``)."""

    context_hours: int = Field(default=24, ge=1, le=24)
    """Turns older than this are never sent to a model (and are purged)."""

    summary_trigger_ratio: float = Field(default=0.75, gt=0.1, le=1.0)
    """Summarise older turns once the history needs more than this share of the model window."""

    request_timeout: float = Field(default=60.0, gt=0)
    """Total time allowed for one model request (seconds)."""

    first_token_timeout: float = Field(default=30.0, gt=0)
    """Time allowed until the first streamed token (seconds)."""

    idle_timeout: float = Field(default=30.0, gt=0)
    """Longest silence allowed between two streamed chunks (seconds)."""

    retry_attempts: int = Field(default=3, ge=1, le=10)
    """Attempts per request on 429/5xx/connection errors before the first token arrives."""

    retry_base_delay: float = Field(default=0.5, ge=0)
    """First back-off delay; doubles each attempt (with jitter), capped at ``retry_max_delay``."""

    retry_max_delay: float = Field(default=8.0, ge=0)

    breaker_failures: int = Field(default=5, ge=1)
    """Consecutive failures that open a provider's circuit breaker."""

    breaker_cooldown: float = Field(default=60.0, gt=0)
    """Seconds an open breaker waits before letting one trial request through."""

    edit_interval: float = Field(default=1.1, gt=0)
    """Minimum seconds between two edits of one streamed message (Telegram: ~1 edit/s/chat)."""

    group_edit_interval: float = Field(default=3.5, gt=0)
    """The same in groups, where Telegram allows about 20 messages (edits count) a minute."""

    draft_interval: float = Field(default=0.25, gt=0)
    """Minimum seconds between two ``sendMessageDraft`` updates in one private chat."""

    stream_drafts_per_second: float = Field(default=40.0, gt=0)
    """Intermediate ``sendMessageDraft`` updates per second for all answers streaming at once:
    with more answers, each one's drafts are spaced further apart (``draft_interval`` at least)."""

    stream_edits_per_second: float = Field(default=10.0, gt=0)
    """The same for intermediate edits (groups, or drafts off). Edits count against Telegram's
    ~30 messages a second; the rest is left for first messages, final messages and other work."""

    use_drafts: bool = True
    """Stream with ``sendMessageDraft`` in private chats (Bot API 9.5+); edits otherwise."""
