"""The admin service handed to handlers as `admin` (`bot/deps.py: AppDeps.admin`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from importlib import metadata

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.state import KeyValueState
from services.admin.audit import AuditPublisher
from services.admin.broadcast import BroadcastWorker
from services.admin.config import AdminSettings
from services.admin.identity import ActivityRecorder, UsernameHasher
from services.admin.ports import AdminPorts
from services.crypto import KeyImportError, KeyInfo
from services.crypto.service import CryptoService
from services.ports import Localiser, MessageSender

log = logging.getLogger(__name__)

_PUBLISH_LOCK = "adm:audit-publish"
_PUBLISH_LOCK_TTL = 120.0


class AdminConfigError(Exception):
    """The operators' key is unusable (raised while the application is built)."""


def package_version() -> str:
    try:
        return metadata.version("libral")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class AdminService:
    settings: AdminSettings
    ports: AdminPorts
    hasher: UsernameHasher
    activity: ActivityRecorder
    worker: BroadcastWorker
    crypto: CryptoService
    bot: MessageSender
    sessionmaker: async_sessionmaker[AsyncSession]
    operator_key: KeyInfo | None = None
    publisher: AuditPublisher | None = None
    started_at: float = field(default_factory=time.monotonic)
    version: str = field(default_factory=package_version)

    @classmethod
    def build(
        cls,
        settings: AdminSettings,
        *,
        bot: MessageSender,
        sessionmaker: async_sessionmaker[AsyncSession],
        translator: Localiser,
        kv: KeyValueState,
        crypto: CryptoService,
        ports: AdminPorts,
        owner: str,
    ) -> AdminService:
        hasher = UsernameHasher(crypto.fields)
        operator_key: KeyInfo | None = None
        if settings.log_chat_id is not None and settings.operator_key is not None:
            try:
                operator_key = crypto.engine.inspect_public_key(
                    settings.operator_key.get_secret_value()
                )
            except KeyImportError as exc:
                raise AdminConfigError(f"ADMIN__OPERATOR_KEY: {exc.kind.value}") from None
        service = cls(
            settings=settings,
            ports=ports,
            hasher=hasher,
            activity=ActivityRecorder(hasher, kv),
            worker=BroadcastWorker(bot, sessionmaker, translator, settings, owner=owner),
            crypto=crypto,
            bot=bot,
            sessionmaker=sessionmaker,
            operator_key=operator_key,
        )
        service.worker.on_tick = service.publish_audit
        return service

    @property
    def uptime_seconds(self) -> int:
        return int(time.monotonic() - self.started_at)

    async def start(self) -> None:
        """After the crypto service started (it holds the server signing key)."""
        if self.operator_key is not None and self.settings.log_chat_id is not None:
            self.publisher = AuditPublisher(
                self.crypto.context_lock, self.operator_key, self.settings.log_chat_id
            )
        await self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()

    async def publish_audit(self) -> None:
        if self.publisher is None:
            return
        # One instance at a time extends the operators' chain (others skip this round).
        if not await self.activity.kv.set_once(_PUBLISH_LOCK, _PUBLISH_LOCK_TTL):
            return
        try:
            await self.publisher.publish_pending(self.bot, self.sessionmaker)
        finally:
            await self.activity.kv.delete(_PUBLISH_LOCK)

    def changed(self) -> None:
        """An audit event or a broadcast was committed: let the worker look now."""
        self.worker.wake()
