"""Migrations and models agree, and downgrade/upgrade round-trips (SQLite here; CI also runs the
cycle on PostgreSQL with `python -m tests.migration_cycle`)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import migrate
from bot.db.models import Base


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_migrated_schema_matches_models(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_downgrade_then_upgrade(engine: AsyncEngine) -> None:
    await migrate.downgrade(engine)
    async with engine.connect() as conn:
        assert await conn.run_sync(_tables) == set()
    await migrate.upgrade(engine)
    async with engine.connect() as conn:
        assert await conn.run_sync(_tables) == set(Base.metadata.tables)
        assert await conn.run_sync(_diff) == []
