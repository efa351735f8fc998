"""`/forget`: delete a user's central personal data at once.

Every table that leads to ``users.id`` (a foreign key, a chain of them, a declared user column, or
a column named ``user_id``) loses the user's rows, children first, in the caller's transaction.
Tables declared ``Forget.KEEP`` (the account row with its credit balance, the credit ledger) keep
their rows and have their ``scrub`` columns cleared. See `bot.db.retention`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, MetaData, Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.db.models import Base
from bot.db.retention import (
    USERS_TABLE,
    Forget,
    declared_user_column,
    forget_mode,
    scrub_columns,
)

# How many foreign-key hops away from a user-owned table a row may live and still be found.
MAX_DEPTH = 4


@dataclass(slots=True)
class ForgetReport:
    deleted: dict[str, int] = field(default_factory=dict)
    scrubbed: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.deleted.values())


def user_condition(table: Table, users: Table, user_id: int) -> ColumnElement[bool] | None:
    """A WHERE clause selecting `user_id`'s rows of `table`, or None when it holds none."""
    return _condition(table, users, user_id, depth=0)


def _condition(table: Table, users: Table, user_id: int, depth: int) -> ColumnElement[bool] | None:
    if table is users:
        return users.c.id == user_id
    declared = declared_user_column(table)
    if declared is not None:
        return declared == user_id
    for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
        if fk.column.table is users and fk.column.name == "id":
            return fk.parent == user_id
    if "user_id" in table.c:
        return table.c.user_id == user_id
    if depth >= MAX_DEPTH:
        return None
    for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
        parent = fk.column.table
        if parent is table:
            continue
        via = _condition(parent, users, user_id, depth + 1)
        if via is not None:
            return fk.parent.in_(select(fk.column).where(via))
    return None


def user_tables(metadata: MetaData) -> list[Table]:
    """Tables that hold rows belonging to a user (children first)."""
    users = metadata.tables[USERS_TABLE]
    return [t for t in reversed(metadata.sorted_tables) if user_condition(t, users, 0) is not None]


async def forget_user(
    session: AsyncSession, user_id: int, metadata: MetaData | None = None
) -> ForgetReport:
    """Delete `user_id`'s personal rows in the session's transaction (the caller commits)."""
    if metadata is None:
        metadata = Base.metadata
    users = metadata.tables[USERS_TABLE]
    conn = await session.connection()
    report = ForgetReport()
    for table in user_tables(metadata):
        where = user_condition(table, users, user_id)
        assert where is not None
        if table is not users and forget_mode(table) is Forget.DELETE:
            result = await conn.execute(delete(table).where(where))
            if result.rowcount:
                report.deleted[table.name] = result.rowcount
            continue
        columns = scrub_columns(table)
        if columns:
            result = await conn.execute(update(table).where(where).values(dict.fromkeys(columns)))
            if result.rowcount:
                report.scrubbed[table.name] = result.rowcount
    # Keep rows already loaded in this session in step, without marking them dirty.
    for obj in list(session.identity_map.values()):
        mapped = getattr(obj, "__table__", None)
        if isinstance(mapped, Table) and mapped.name in report.scrubbed:
            for name in scrub_columns(mapped):
                if _key_matches(obj, mapped, users, user_id):
                    set_committed_value(obj, name, None)
    return report


def _key_matches(obj: object, table: Table, users: Table, user_id: int) -> bool:
    if table is users:
        return bool(getattr(obj, "id", None) == user_id)
    return bool(getattr(obj, "user_id", None) == user_id)
