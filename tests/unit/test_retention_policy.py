"""The retention registry: convention, declarations, cascades and /forget's reach."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Column, DateTime, ForeignKey, Integer, MetaData, String, Table

from bot.db.retention import (
    INFO_KEY,
    Forget,
    Retention,
    expires_with,
    expiry_of,
    forget_mode,
)
from services.retention.forget import user_condition, user_tables

TS = DateTime(timezone=True)


def world() -> MetaData:
    metadata = MetaData()
    Table("users", metadata, Column("id", Integer, primary_key=True))
    Table(
        "tokens",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("user_id", ForeignKey("users.id", ondelete="CASCADE")),
        Column("expires_at", TS, index=True),
    )
    Table(
        "threads",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("owner", ForeignKey("users.id")),
        Column("opened_at", TS, index=True),
        info={INFO_KEY: Retention(expires="opened_at", after=timedelta(hours=12))},
    )
    Table(
        "posts",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("thread_id", ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
        Column("body", String),
    )
    Table(
        "periods",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("user_id", Integer),
        # Not a purge deadline: the declaration (without `expires`) wins over the convention.
        Column("expires_at", TS),
        info={INFO_KEY: Retention(forget=Forget.KEEP)},
    )
    Table("settings", metadata, Column("key", String, primary_key=True))
    return metadata


def test_convention_declaration_and_cascade() -> None:
    metadata = world()
    tables = metadata.tables
    tokens = expiry_of(tables["tokens"])
    assert tokens is not None
    assert (tokens.column.name, tokens.after) == ("expires_at", timedelta(0))
    threads = expiry_of(tables["threads"])
    assert threads is not None
    assert (threads.column.name, threads.after) == ("opened_at", timedelta(hours=12))
    assert expiry_of(tables["posts"]) is None
    assert expires_with(tables["posts"]) is tables["threads"]
    assert expiry_of(tables["periods"]) is None
    assert expiry_of(tables["settings"]) is None


def test_forget_reaches_rows_through_foreign_keys_and_user_columns() -> None:
    metadata = world()
    reached = {t.name for t in user_tables(metadata)}
    assert reached == {"users", "tokens", "threads", "posts", "periods"}
    condition = user_condition(metadata.tables["posts"], metadata.tables["users"], 42)
    assert condition is not None
    sql = str(condition.compile(compile_kwargs={"literal_binds": True}))
    assert "threads.owner = 42" in sql
    assert forget_mode(metadata.tables["periods"]) is Forget.KEEP
    assert forget_mode(metadata.tables["tokens"]) is Forget.DELETE


def test_policies_are_checked() -> None:
    with pytest.raises(ValueError, match="needs the timestamp column"):
        Retention(after=timedelta(hours=1))
    with pytest.raises(ValueError, match="24 hours"):
        Retention(expires="created_at", after=timedelta(days=2))
    with pytest.raises(ValueError, match="scrub"):
        Retention(scrub=("name",))
    metadata = MetaData()
    wrong = Table("wrong", metadata, Column("id", Integer, primary_key=True), info={INFO_KEY: 1})
    with pytest.raises(TypeError):
        expiry_of(wrong)
    missing = Table(
        "missing",
        metadata,
        Column("id", Integer, primary_key=True),
        info={INFO_KEY: Retention(expires="gone_at")},
    )
    with pytest.raises(LookupError, match="gone_at"):
        expiry_of(missing)
