"""The crypto service handed to handlers and other services (``AppDeps.crypto``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.crypto import server_keys
from services.crypto.config import CryptoSettings
from services.crypto.fields import FieldCipher
from services.crypto.gnupg_engine import GnupgEngine
from services.crypto.port import OpenPGPEngine, SigningKey
from services.crypto.records import ContextLock
from services.crypto.sequoia_engine import SequoiaEngine


def build_engine(settings: CryptoSettings) -> OpenPGPEngine:
    """The engine named by ``CRYPTO__ENGINE``."""
    if settings.engine == "gnupg":
        return GnupgEngine(
            settings.gnupg_home, binary=settings.gnupg_binary, max_key_bytes=settings.max_key_bytes
        )
    return SequoiaEngine(max_key_bytes=settings.max_key_bytes)


@dataclass
class CryptoService:
    """OpenPGP engine, field cipher and the server signing key, loaded at start-up."""

    settings: CryptoSettings
    engine: OpenPGPEngine
    fields: FieldCipher
    _server_key: SigningKey | None = field(default=None, repr=False)
    _verification_certs: tuple[str, ...] = ()
    _lock: ContextLock | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: CryptoSettings) -> CryptoService:
        return cls(
            settings=settings,
            engine=build_engine(settings),
            fields=FieldCipher.from_settings(settings),
        )

    async def start(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Load (or create, or import) the server signing key. Run once at start-up."""
        async with sessionmaker() as session:
            key = await server_keys.get_or_create_server_key(
                session, self.engine, self.fields, self.settings
            )
            certs = await server_keys.verification_certs(session)
            await session.commit()
        self._set_key(key, certs)

    async def rotate(self, session: AsyncSession) -> SigningKey:
        """Generate a new signing key; old ones keep verifying. The caller commits."""
        key = await server_keys.rotate_server_key(session, self.engine, self.fields, self.settings)
        self._set_key(key, await server_keys.verification_certs(session))
        return key

    def _set_key(self, key: SigningKey, certs: list[str]) -> None:
        self._server_key = key
        self._verification_certs = tuple(certs)
        self._lock = ContextLock(self.engine, key, certs)

    @property
    def server_key(self) -> SigningKey:
        if self._server_key is None:
            raise RuntimeError("CryptoService.start() has not run")
        return self._server_key

    @property
    def context_lock(self) -> ContextLock:
        """Seals records with the active server key; verifies against all server keys."""
        if self._lock is None:
            raise RuntimeError("CryptoService.start() has not run")
        return self._lock

    @property
    def verification_certs(self) -> tuple[str, ...]:
        return self._verification_certs
