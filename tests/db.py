"""Throw-away test databases: migrated once per test session, cloned per test.

With TEST_DATABASE_URL (PostgreSQL) each test gets `CREATE DATABASE … TEMPLATE <migrated>`, which
takes tens of milliseconds; without it, a copy of a migrated SQLite file. Names are random, so
several pytest processes can share one server.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
from sqlalchemy.engine import make_url

from bot.db import migrate
from bot.db.engine import create_engine


def _admin_dsn(url: str) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _execute(admin_url: str, *statements: str) -> None:
    conn = await asyncpg.connect(_admin_dsn(admin_url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


class PostgresDatabases:
    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.template = f"libral_tpl_{uuid.uuid4().hex[:10]}"

    def create_template(self) -> None:
        asyncio.run(_execute(self.server_url, f'CREATE DATABASE "{self.template}"'))
        asyncio.run(_migrate(with_database(self.server_url, self.template)))

    def clone(self) -> str:
        name = f"libral_t_{uuid.uuid4().hex[:12]}"
        asyncio.run(
            _execute(self.server_url, f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        )
        return with_database(self.server_url, name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        asyncio.run(_execute(self.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop_template(self) -> None:
        asyncio.run(
            _execute(self.server_url, f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        )


class SqliteDatabases:
    def __init__(self, directory: Path) -> None:
        self.template = directory / "template.db"

    def create_template(self) -> None:
        asyncio.run(_migrate(f"sqlite+aiosqlite:///{self.template}"))

    def clone(self, directory: Path) -> str:
        target = directory / "libral.db"
        shutil.copyfile(self.template, target)
        return f"sqlite+aiosqlite:///{target}"
