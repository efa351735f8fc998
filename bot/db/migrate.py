"""Run Alembic migrations from inside the running event loop (start-up and tests)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(
    engine: AsyncEngine, revision: str = "heads", *, attributes: Mapping[str, object] = {}
) -> None:
    """``attributes`` reach the migrations (``field_cipher``: data migrations that encrypt)."""
    async with engine.begin() as conn:
        await conn.run_sync(_run, "upgrade", revision, attributes)


async def downgrade(
    engine: AsyncEngine, revision: str = "base", *, attributes: Mapping[str, object] = {}
) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_run, "downgrade", revision, attributes)


def _run(
    connection: Connection, action: str, revision: str, attributes: Mapping[str, object]
) -> None:
    config = alembic_config()
    config.attributes.update(attributes)
    # env.py picks the connection up instead of opening its own (no nested event loop).
    config.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)
