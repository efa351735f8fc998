"""Async engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry


def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 20,
    max_overflow: int = 10,
    pool_timeout: float = 120.0,
) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, echo=echo, hide_parameters=True, connect_args={"timeout": 30}
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout,
        # No pre-ping: it cost a BEGIN/SELECT 1/ROLLBACK round trip on every checkout. A connection
        # found dead fails its query with `connection_invalidated`; SQLAlchemy then replaces every
        # pooled connection older than the failure, and the update's error boundary retries at
        # once (middlewares/updates.py). Recycling keeps us ahead of server/proxy idle timeouts.
        "pool_pre_ping": False,
        "pool_recycle": 1800,
        # Bound values can be personal: keep them out of exception texts and logs.
        "hide_parameters": True,
    }
    return create_async_engine(url, echo=echo, **kwargs)


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # The driver's own implicit BEGIN skips SAVEPOINT, so a savepoint opened first in a
    # transaction would commit on release; SQLAlchemy emits BEGIN itself instead (`_sqlite_begin`).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    # WAL lets the delivery worker read while a handler writes; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL fsyncs at checkpoints, not at every commit: a commit survives a crash of
    # the process, and only an OS crash or power cut can lose the last few (never corrupt).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    # 16 MB page cache per connection (the default is 2 MB).
    cursor.execute("PRAGMA cache_size=-16000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE: take the write lock at the start, so that concurrent transactions queue on
    # busy_timeout. A deferred transaction that reads and then writes after another connection
    # committed fails at once with "database is locked" in WAL mode (two first updates of a new
    # user, a handler racing the log delivery worker). Keep sessions short (commit before slow
    # work), as the AI chat handler does.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
