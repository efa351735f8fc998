"""docs/privacy.md's machine-readable inventory, and the checks that hold it to the schema."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData, Table

from bot.db.retention import (
    MAX_AGE,
    Forget,
    expires_with,
    expiry_of,
    forget_mode,
    scrub_columns,
)
from services.retention.forget import user_tables

DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"
CLASSES = {"kept", "encrypted", "expires"}
AT_REST = {"plain", "aes-gcm", "hmac", "openpgp"}
PROTECTED = {"aes-gcm", "hmac", "openpgp"}
LIFETIMES = {"account", "service", "24h"}
FORGET = {"delete", "keep", "scrub", "-"}


@dataclass(frozen=True, slots=True)
class ColumnEntry:
    table: str
    column: str
    cls: str
    at_rest: str
    lifetime: str
    forget: str


@dataclass(frozen=True, slots=True)
class RedisEntry:
    pattern: str
    cls: str
    at_rest: str
    ttl_seconds: int


def _section(text: str, name: str) -> list[list[str]]:
    match = re.search(
        rf"<!-- privacy-inventory:{name} -->\n(.*?)<!-- /privacy-inventory:{name} -->", text, re.S
    )
    if match is None:
        raise AssertionError(f"docs/privacy.md has no privacy-inventory:{name} section")
    rows = []
    for line in match.group(1).strip().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and not set(cells[0]) <= {"-", " "} and cells[0] not in ("table", "key"):
            rows.append(cells)
    return rows


def parse_tables(text: str) -> list[ColumnEntry]:
    return [ColumnEntry(*row[:6]) for row in _section(text, "tables")]


def _seconds(value: str) -> int:
    match = re.fullmatch(r"(\d+)(s|m|h)", value)
    if match is None:
        raise AssertionError(f"TTL {value!r} is not like 10s, 5m or 24h")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2)]


def parse_redis(text: str) -> list[RedisEntry]:
    return [RedisEntry(row[0], row[1], row[2], _seconds(row[3])) for row in _section(text, "redis")]


def _indexed(table: Table, column: str) -> bool:
    leading = [next(iter(i.columns)).name for i in table.indexes if i.columns]
    pk = list(table.primary_key.columns)
    return column in leading or (bool(pk) and pk[0].name == column)


def schema_problems(metadata: MetaData, entries: list[ColumnEntry]) -> list[str]:
    """Everything in which the document and the schema (and the retention registry) disagree."""
    problems: list[str] = []
    documented: dict[tuple[str, str], ColumnEntry] = {}
    for entry in entries:
        key = (entry.table, entry.column)
        if key in documented:
            problems.append(f"{entry.table}.{entry.column}: listed twice")
        documented[key] = entry
        if entry.cls not in CLASSES:
            problems.append(f"{entry.table}.{entry.column}: class {entry.cls!r} unknown")
        if entry.at_rest not in AT_REST:
            problems.append(f"{entry.table}.{entry.column}: at rest {entry.at_rest!r} unknown")
        if entry.lifetime not in LIFETIMES:
            problems.append(f"{entry.table}.{entry.column}: lifetime {entry.lifetime!r} unknown")
        if entry.forget not in FORGET:
            problems.append(f"{entry.table}.{entry.column}: forget {entry.forget!r} unknown")
        if entry.cls == "encrypted" and entry.at_rest not in PROTECTED:
            problems.append(f"{entry.table}.{entry.column}: 'encrypted' but stored {entry.at_rest}")
        if (entry.cls == "expires") != (entry.lifetime == "24h"):
            problems.append(f"{entry.table}.{entry.column}: class and lifetime disagree")

    users = user_tables(metadata)
    for table in metadata.sorted_tables:
        expiry = expiry_of(table)
        purged = expiry is not None or expires_with(table) is not None
        if expiry is not None:
            if expiry.after > MAX_AGE:
                problems.append(f"{table.name}: kept {expiry.after} after {expiry.column.name}")
            if not _indexed(table, expiry.column.name):
                problems.append(f"{table.name}.{expiry.column.name}: purge column not indexed")
            if expiry.column.nullable:
                # A NULL deadline never passes: such a row would live forever.
                problems.append(f"{table.name}.{expiry.column.name}: purge column nullable")
        for column in table.columns:
            listed = documented.pop((table.name, column.name), None)
            where = f"{table.name}.{column.name}"
            if listed is None:
                problems.append(f"{where}: missing from docs/privacy.md")
                continue
            if purged and listed.cls != "expires":
                problems.append(f"{where}: the purge deletes it, the document says {listed.cls}")
            if not purged and listed.cls == "expires":
                problems.append(f"{where}: documented 'expires' but no purge rule covers it")
            expected = _forget_label(table, column.name, users)
            if listed.forget != expected:
                problems.append(
                    f"{where}: /forget does {expected!r}, document says {listed.forget!r}"
                )
    problems.extend(f"{t}.{c}: documented but not in the schema" for t, c in documented)
    return problems


def _forget_label(table: Table, column: str, users: list[Table]) -> str:
    if table not in users:
        return "-"
    if table.name != "users" and forget_mode(table) is Forget.DELETE:
        return "delete"
    return "scrub" if column in scrub_columns(table) else "keep"


def redis_problems(entries: list[RedisEntry]) -> list[str]:
    problems = []
    for entry in entries:
        if entry.cls != "expires":
            problems.append(f"redis {entry.pattern}: every key must expire")
        if not 0 < entry.ttl_seconds <= int(MAX_AGE.total_seconds()):
            problems.append(f"redis {entry.pattern}: TTL must be within 24 hours")
    return problems


def redis_pattern_for(key: str, entries: list[RedisEntry]) -> RedisEntry | None:
    for entry in entries:
        if fnmatch.fnmatchcase(key, entry.pattern):
            return entry
    return None
