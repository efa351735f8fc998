"""Shared fixtures: real databases and Redis, settings, the Bot API emulator.

Set TEST_DATABASE_URL (postgresql+asyncpg://…) and TEST_REDIS_URL (redis://…) to run against the
real services, as CI does; without them tests use SQLite and in-memory state. With
LIBRAL_REQUIRE_SERVICES=1 a test that needs PostgreSQL or Redis fails instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db.engine import create_engine, create_sessionmaker
from bot.settings import Settings
from services.crypto.config import CryptoSettings
from tests.db import PostgresDatabases, SqliteDatabases

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
REQUIRE_SERVICES = os.environ.get("LIBRAL_REQUIRE_SERVICES") == "1"

# The emulator's fixtures, and the OpenPGP ones (engines, keys, a GnuPG home), for every test
# that asks for one.
pytest_plugins = ["tests.emulator.fixtures", "tests.crypto_support"]


def require_postgres() -> str:
    if TEST_DATABASE_URL is None:
        if REQUIRE_SERVICES:
            pytest.fail("TEST_DATABASE_URL is not set but LIBRAL_REQUIRE_SERVICES=1")
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL")
    return TEST_DATABASE_URL


def require_redis() -> str:
    if TEST_REDIS_URL is None:
        if REQUIRE_SERVICES:
            pytest.fail("TEST_REDIS_URL is not set but LIBRAL_REQUIRE_SERVICES=1")
        pytest.skip("needs Redis: set TEST_REDIS_URL")
    return TEST_REDIS_URL


@pytest.fixture(scope="session")
def _databases(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PostgresDatabases | SqliteDatabases]:
    databases: PostgresDatabases | SqliteDatabases
    if TEST_DATABASE_URL is not None:
        databases = PostgresDatabases(TEST_DATABASE_URL)
        databases.create_template()
        yield databases
        databases.drop_template()
    else:
        databases = SqliteDatabases(tmp_path_factory.mktemp("db-template"))
        databases.create_template()
        yield databases


@pytest.fixture
def db_url(_databases: PostgresDatabases | SqliteDatabases, tmp_path: Path) -> Iterator[str]:
    """A fresh database with every migration applied, for this test alone."""
    if isinstance(_databases, PostgresDatabases):
        url = _databases.clone()
        yield url
        _databases.drop(url)
    else:
        yield _databases.clone(tmp_path)


@pytest.fixture
def pg_url(db_url: str) -> str:
    """Like `db_url`, but the test needs PostgreSQL itself."""
    require_postgres()
    return db_url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with create_sessionmaker(engine)() as session:
        yield session


@pytest.fixture
def redis_url() -> str | None:
    return TEST_REDIS_URL


@pytest.fixture
def real_redis_url() -> str:
    return require_redis()


@pytest.fixture
async def kv_prefix(redis_url: str | None) -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are removed afterwards (never FLUSHDB)."""
    prefix = f"libral-test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    if redis_url is not None:
        redis = Redis.from_url(redis_url)
        try:
            keys = [key async for key in redis.scan_iter(match=prefix + "*", count=500)]
            if keys:
                await redis.delete(*keys)
        finally:
            await redis.aclose()


@pytest.fixture
def make_settings(
    db_url: str, redis_url: str | None, kv_prefix: str, tmp_path: Path
) -> Callable[..., Settings]:
    """Settings for this test's database and Redis prefix; keyword arguments override fields."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "bot_token": SecretStr("123456:TEST-token"),
            "database_url": db_url,
            "redis_url": redis_url,
            "redis_prefix": kv_prefix,
            "http_enabled": False,
            "migrate_on_start": False,
            "admin_ids": frozenset(),
            # never the repository's ./data: a throw-away master key and GnuPG home per test
            "crypto": CryptoSettings(
                master_key_file=tmp_path / "master.key", gnupg_home=tmp_path / "gnupg"
            ),
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make
