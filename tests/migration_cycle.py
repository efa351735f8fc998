"""CI step: upgrade → downgrade → upgrade on a fresh PostgreSQL database, then check that the
migrated schema matches the models. `python -m tests.migration_cycle` (needs TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from bot.db import migrate
from bot.db.engine import create_engine
from bot.db.models import Base
from tests.db import _execute, with_database


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def cycle(server_url: str) -> list[object]:
    name = f"libral_mig_{uuid.uuid4().hex[:10]}"
    await _execute(server_url, f'CREATE DATABASE "{name}"')
    engine = create_engine(with_database(server_url, name))
    try:
        await migrate.upgrade(engine)
        await migrate.downgrade(engine)
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            return await conn.run_sync(_diff)
    finally:
        await engine.dispose()
        await _execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        sys.exit("TEST_DATABASE_URL is required")
    diff = asyncio.run(cycle(url))
    if diff:
        print("migrations and models differ:", *diff, sep="\n  ")
        sys.exit(1)
    print("upgrade → downgrade → upgrade: ok; schema matches the models")


if __name__ == "__main__":
    main()
