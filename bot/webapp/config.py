"""Settings of the Mini App (env ``WEBAPP__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class WebAppSettings(BaseModel):
    # The https address at which Telegram clients reach our HTTP server (a reverse proxy in
    # front of HTTP_PORT), e.g. "https://libral.example.org". Telegram opens `web_app` buttons
    # over https only; without it the bot offers no Mini App buttons.
    public_url: str | None = None
    # initData older than this is refused (Telegram signs it when the app is opened).
    max_age_seconds: int = Field(default=3600, ge=60, le=86_400)

    @field_validator("public_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("https://"):
            raise ValueError("must start with https:// (Telegram opens Mini Apps over https only)")
        return value.rstrip("/")

    def page_url(self, page: str) -> str | None:
        """The public address of a Mini App page, or None when no public URL is set."""
        if self.public_url is None:
            return None
        return f"{self.public_url}/app/{page}"
