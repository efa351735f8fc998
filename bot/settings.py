"""Process settings, read once at start-up from the environment and `.env`.

Each feature owns a section (`services/<feature>/config.py`) composed here, so its variables read
as `<FEATURE>__<FIELD>` (for example `AI__OPENAI_API_KEY`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.webapp.config import WebAppSettings
from services.admin.config import AdminSettings
from services.ai.config import AISettings
from services.concierge.config import ConciergeSettings
from services.crypto.config import CryptoSettings
from services.crypto.envfile import EnvFileError, encrypted_env_sources
from services.dashboard.config import DashboardSettings
from services.logserver.config import LogServerSettings
from services.payments.config import PaymentsSettings
from services.retention.config import RetentionSettings
from services.rooms.config import RoomsSettings
from services.sendbudget.config import SendBudgetSettings

Locale = Literal["ja", "en"]
SUPPORTED_LOCALES: tuple[Locale, ...] = ("ja", "en")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/libral.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        # `WEBHOOK_URL=` in a copied .env.example means "not set", not "the empty URL".
        env_ignore_empty=True,
        extra="ignore",
    )

    bot_token: SecretStr
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL pool, per process (bot/db/engine.py). An update or an AI reply holds a connection
    # only for its short transactions (a few statements; never across a Telegram call or a model's
    # stream), so 30 connections serve hundreds of updates in flight; waiting for one is FIFO, and
    # the time-out is a last resort against a leak, not a flow control. Keep
    # instances × (size + overflow) below the server's max_connections (100 by default).
    database_pool_size: int = Field(default=20, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    database_pool_timeout: float = Field(default=120.0, gt=0)
    redis_url: str | None = None
    redis_prefix: str = "libral:"
    telegram_api_url: str = "https://api.telegram.org"

    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_path: str = "/webhook"
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=0, le=65535)
    http_enabled: bool = True

    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    default_locale: Locale = "ja"
    throttle_rate: float = Field(default=1.5, gt=0, description="messages per second per user")
    throttle_burst: int = Field(default=15, ge=1)
    # How long an update being handled stays claimed by a process that died (middlewares/updates)
    update_lease_seconds: float = Field(default=30.0, ge=1, le=600)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    migrate_on_start: bool = True
    admin: AdminSettings = AdminSettings()
    ai: AISettings = AISettings()
    rooms: RoomsSettings = RoomsSettings()
    concierge: ConciergeSettings = ConciergeSettings()
    crypto: CryptoSettings = CryptoSettings()
    dashboard: DashboardSettings = DashboardSettings()
    logserver: LogServerSettings = LogServerSettings()
    payments: PaymentsSettings = PaymentsSettings()
    retention: RetentionSettings = RetentionSettings()
    webapp: WebAppSettings = WebAppSettings()
    sendbudget: SendBudgetSettings = SendBudgetSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # `.env.gpg` (OpenPGP-encrypted, decrypted in memory) ranks between the environment and .env
        encrypted = encrypted_env_sources(settings_cls)
        return (init_settings, env_settings, *encrypted, dotenv_settings, file_secret_settings)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in value.replace(" ", "").split(",") if p]
            return frozenset(int(p) for p in parts)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("expected the form 123456:ABC… given by @BotFather")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("WEBHOOK_SECRET is required when WEBHOOK_URL is set")
        return self

    @property
    def use_webhook(self) -> bool:
        return self.webhook_url is not None

    @property
    def bot_id(self) -> int:
        return int(self.bot_token.get_secret_value().split(":", 1)[0])

    def sqlite_path(self) -> Path | None:
        if not self.database_url.startswith("sqlite"):
            return None
        raw = self.database_url.split(":///", 1)[1]
        return None if raw in ("", ":memory:") else Path(raw)


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it in one line."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = "__".join(str(p) for p in err["loc"]).upper() or "settings"
            problems.append(f"{loc}: {err['msg']}")
        raise SettingsError("; ".join(problems)) from None
    except EnvFileError as exc:
        raise SettingsError(str(exc)) from None
