"""docs/privacy.md lists every column of every table with its class, and agrees with the purge.

A new column (or table) without an entry, an entry for a column that no longer exists, a column
documented as expiring that no purge rule covers (or the reverse), an unindexed purge column, or a
/forget behaviour the document does not state: each fails here, naming the column.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import Base
from bot.db.retention import INFO_KEY, Retention
from tests.integration.privacy_inventory import (
    DOC,
    ColumnEntry,
    parse_redis,
    parse_tables,
    redis_problems,
    schema_problems,
)

TEXT = DOC.read_text(encoding="utf-8")


def test_every_column_of_every_table_is_documented_and_agrees_with_the_purge() -> None:
    assert schema_problems(Base.metadata, parse_tables(TEXT)) == []


def test_redis_keys_are_documented_with_ttls_within_a_day() -> None:
    entries = parse_redis(TEXT)
    assert entries
    assert redis_problems(entries) == []


def test_the_document_is_bilingual() -> None:
    assert "## 日本語" in TEXT
    assert "## English" in TEXT
    assert TEXT.index("## 日本語") < TEXT.index("## English")


def _copy() -> MetaData:
    copy = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


def test_a_new_column_without_an_entry_fails() -> None:
    metadata = _copy()
    metadata.tables["users"].append_column(Column("nickname", String(64)))
    problems = schema_problems(metadata, parse_tables(TEXT))
    assert problems == ["users.nickname: missing from docs/privacy.md"]


def test_a_new_table_with_an_expiry_is_purged_and_must_be_documented_as_expiring() -> None:
    metadata = _copy()
    Table(
        "chat_scratch",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("ciphertext", String),
        Column("expires_at", DateTime(timezone=True), index=True, nullable=False),
    )
    problems = schema_problems(metadata, parse_tables(TEXT))
    assert sorted(problems) == [
        "chat_scratch.ciphertext: missing from docs/privacy.md",
        "chat_scratch.expires_at: missing from docs/privacy.md",
        "chat_scratch.id: missing from docs/privacy.md",
    ]
    entries = [*parse_tables(TEXT)]
    entries += [
        ColumnEntry("chat_scratch", c, "kept", "plain", "account", "-")
        for c in ("id", "ciphertext", "expires_at")
    ]
    problems = schema_problems(metadata, entries)
    assert "chat_scratch.ciphertext: the purge deletes it, the document says kept" in problems


def test_an_unindexed_purge_column_and_a_stale_entry_fail() -> None:
    metadata = _copy()
    table = Table(
        "scratch",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("made_at", DateTime(timezone=True), nullable=False),
        info={INFO_KEY: Retention(expires="made_at", after=timedelta(hours=1))},
    )
    entries = [
        *parse_tables(TEXT),
        *(ColumnEntry("scratch", c, "expires", "plain", "24h", "-") for c in ("id", "made_at")),
        ColumnEntry("scratch", "gone", "expires", "plain", "24h", "-"),
    ]
    problems = schema_problems(metadata, entries)
    assert "scratch.made_at: purge column not indexed" in problems
    assert "scratch.gone: documented but not in the schema" in problems
    Index("ix_scratch_made_at", table.c.made_at)
    entries.pop()
    assert schema_problems(metadata, entries) == []
    table.c.made_at.nullable = True
    assert schema_problems(metadata, entries) == ["scratch.made_at: purge column nullable"]


def test_a_policy_cannot_keep_personal_temporary_data_beyond_a_day() -> None:
    with pytest.raises(ValueError, match="24 hours"):
        Retention(expires="created_at", after=timedelta(hours=25))


async def test_the_migrated_database_has_exactly_the_documented_columns(
    engine: AsyncEngine,
) -> None:
    def columns(sync_conn: object) -> set[tuple[str, str]]:
        inspector = inspect(sync_conn)
        return {
            (table, col["name"])
            for table in inspector.get_table_names()
            if table != "alembic_version"
            for col in inspector.get_columns(table)
        }

    async with engine.connect() as conn:
        found = await conn.run_sync(columns)
    documented = {(e.table, e.column) for e in parse_tables(TEXT)}
    assert found - documented == set(), "columns in the database but not in docs/privacy.md"
