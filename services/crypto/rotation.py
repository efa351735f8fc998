"""Master-key rotation across every field-encrypted and keyed-hash column of the models.

The operator makes the new master key the current one and keeps the old one readable
(``CRYPTO__MASTER_KEY`` new, ``CRYPTO__OLD_MASTER_KEYS`` old), restarts the bot, then runs
``python -m bot rotate-master-key``, which calls :func:`rotate_master_key`. It works from the
registry the models declare (``bot.db.encrypted``):

* every encrypted column is re-encrypted under the current key (bound to the same row);
* every keyed-hash column whose plaintext is kept (encrypted) in its row is recomputed from it;
* hash columns whose plaintext is not stored are counted: the 24-hour ones (conversation scopes)
  are found through every known key until they expire; ``users.username_hash`` is rewritten when
  the user next writes to the bot.

Each batch is its own transaction, and a row is written only if it still holds what was read
(compare and set): the bot keeps running, and a value it rewrote meanwhile is never overwritten
with an older one. A row already under the current key is left alone, so the command is safe to
re-run after a crash, and a re-run finishes what is left. The report says when the old key may go.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, MetaData, Table, and_, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.encrypted import Encrypted, FieldColumn, LookupHash, Rehash, registry
from bot.db.retention import expiry_of
from services.crypto.fields import TOKEN_PREFIX, FieldCipher, FieldDecryptError


@dataclass(slots=True)
class ColumnCount:
    """What one run did to one column."""

    name: str
    kind: str  # "aes-gcm" or "hmac"
    rows: int = 0  # non-empty values seen
    rewritten: int = 0  # re-encrypted / recomputed under the current key
    unreadable: int = 0  # a token no known key opens (or its source's)
    raced: int = 0  # changed by the bot between read and write: left to it (re-run checks)


@dataclass(frozen=True, slots=True)
class PendingHash:
    """A hash column the rotation cannot recompute (its plaintext is not stored)."""

    name: str
    rehash: Rehash
    rows: int  # rows that may still hold a hash under an older key
    until: datetime | None  # EXPIRES: the last of them is purged by then


@dataclass(slots=True)
class RotationReport:
    key_id: str
    old_key_ids: list[str]
    started_at: datetime
    columns: list[ColumnCount] = field(default_factory=list)
    pending: list[PendingHash] = field(default_factory=list)

    @property
    def unreadable(self) -> int:
        return sum(c.unreadable for c in self.columns)

    @property
    def raced(self) -> int:
        return sum(c.raced for c in self.columns)

    @property
    def rewritten(self) -> int:
        return sum(c.rewritten for c in self.columns)

    @property
    def complete(self) -> bool:
        """Every encrypted value and every recomputable hash is under the current key."""
        return self.unreadable == 0 and self.raced == 0

    @property
    def old_key_removable_after(self) -> datetime | None:
        """When the old key may be removed (None: not yet, run again or see ``unreadable``).

        The 24-hour rows whose hash may be under the old key are the only wait: every one of
        them is purged by then. ``ON_CONTACT`` hashes do not hold the key back (a user who has
        not written since is then found by id, not by @username, until they write again).
        """
        if not self.complete:
            return None
        until = [p.until for p in self.pending if p.rehash is Rehash.EXPIRES and p.until]
        return max([self.started_at, *until])


Progress = Callable[[ColumnCount], Awaitable[None] | None]


def _is_current(cipher: FieldCipher, token: str) -> bool:
    return token.startswith(f"{TOKEN_PREFIX}.{cipher.current_key_id}.")


@dataclass(frozen=True, slots=True)
class _TablePlan:
    table: Table
    encrypted: list[FieldColumn]
    hashes: list[FieldColumn]  # FROM_SOURCE only

    @property
    def read_columns(self) -> list[str]:
        names: dict[str, None] = {c.name: None for c in self.table.primary_key.columns}
        for item in self.encrypted:
            assert isinstance(item.spec, Encrypted)
            names.update(dict.fromkeys(item.spec.bind))
            names[item.column.name] = None
        for item in self.hashes:
            names[item.column.name] = None
        return list(names)


def _plans(columns: Sequence[FieldColumn]) -> list[_TablePlan]:
    by_table: dict[str, list[FieldColumn]] = defaultdict(list)
    tables: dict[str, Table] = {}
    for item in columns:
        by_table[item.table.name].append(item)
        tables[item.table.name] = item.table
    plans = []
    for name, items in by_table.items():
        enc = [i for i in items if isinstance(i.spec, Encrypted)]
        hashes = [
            i
            for i in items
            if isinstance(i.spec, LookupHash) and i.spec.rehash is Rehash.FROM_SOURCE
        ]
        if enc or hashes:
            plans.append(_TablePlan(tables[name], enc, hashes))
    return plans


def _rotate_row(
    plan: _TablePlan,
    row: dict[str, Any],
    cipher: FieldCipher,
    counts: dict[str, ColumnCount],
) -> dict[str, Any]:
    """The new values of the row's columns (only those that change)."""
    values: dict[str, Any] = {}
    plaintexts: dict[str, bytes | None] = {}
    for item in plan.encrypted:
        spec = item.spec
        assert isinstance(spec, Encrypted)
        token = row[item.column.name]
        count = counts[item.name]
        if token is None:
            plaintexts[item.column.name] = None
            continue
        count.rows += 1
        bound = spec.row_id(row)
        try:
            opened = cipher.decrypt(spec.purpose, token, row_id=bound)
        except FieldDecryptError:
            count.unreadable += 1
            plaintexts[item.column.name] = None
            continue
        plaintexts[item.column.name] = opened
        if not _is_current(cipher, token):
            values[item.column.name] = cipher.encrypt(spec.purpose, opened, row_id=bound)
    for item in plan.hashes:
        spec = item.spec
        assert isinstance(spec, LookupHash)
        assert spec.source is not None
        count = counts[item.name]
        current = row[item.column.name]
        if current is None:
            continue
        count.rows += 1
        plain = plaintexts.get(spec.source)
        if plain is None:
            # Its source is empty (a room made before ``rooms.chat_enc``) or unreadable: the
            # hash cannot be recomputed here, and the old key must stay until it is.
            count.unreadable += 1
            continue
        value: Any = plain.decode()
        if spec.json_field is not None:
            value = json.loads(value)[spec.json_field]
        digest = cipher.lookup_hash(spec.purpose, value)
        if digest != current:
            values[item.column.name] = digest
    return values


async def _rotate_table(
    sessionmaker: async_sessionmaker[AsyncSession],
    plan: _TablePlan,
    cipher: FieldCipher,
    counts: dict[str, ColumnCount],
    batch_size: int,
    progress: Progress | None,
) -> None:
    table = plan.table
    pk = list(table.primary_key.columns)
    key = tuple_(*pk) if len(pk) > 1 else pk[0]
    names = plan.read_columns
    last: tuple[Any, ...] | None = None
    while True:
        query = select(*(table.c[n] for n in names)).order_by(*pk).limit(batch_size)
        if last is not None:
            query = query.where(key > (tuple_(*last) if len(pk) > 1 else last[0]))
        async with sessionmaker() as session:
            rows = [dict(r._mapping) for r in (await session.execute(query)).all()]
            if not rows:
                await session.rollback()
                return
            for row in rows:
                values = _rotate_row(plan, row, cipher, counts)
                if not values:
                    continue
                # Compare and set: only if every column we change still holds what we read.
                where: list[ColumnElement[bool]] = [c == row[c.name] for c in pk]
                where += [table.c[n] == row[n] for n in values]
                result = await session.execute(update(table).where(and_(*where)).values(values))
                changed = int(getattr(result, "rowcount", 0) or 0) == 1
                for name in values:
                    count = counts[f"{table.name}.{name}"]
                    if changed:
                        count.rewritten += 1
                    else:
                        count.raced += 1
            await session.commit()
        last = tuple(rows[-1][c.name] for c in pk)
        if progress is not None:
            for item in (*plan.encrypted, *plan.hashes):
                outcome = progress(counts[item.name])
                if outcome is not None:
                    await outcome


async def _pending(
    session: AsyncSession, item: FieldColumn, started_at: datetime
) -> PendingHash | None:
    spec = item.spec
    assert isinstance(spec, LookupHash)
    table, column = item.table, item.column
    conditions: list[ColumnElement[bool]] = [column.is_not(None)]
    if spec.literals:
        conditions.append(column.not_in(spec.literals))
    until: datetime | None = None
    if spec.rehash is Rehash.ON_CONTACT:
        assert spec.seen is not None
        # Rows not refreshed since this run began may still hold an old key's hash.
        conditions.append(table.c[spec.seen] < started_at)
    counted = select(func.count()).select_from(table).where(*conditions)
    rows = int(await session.scalar(counted) or 0)
    if spec.rehash is Rehash.EXPIRES:
        expiry = expiry_of(table)
        if expiry is None:
            raise LookupError(f"{item.name}: an expiring hash on a table that does not expire")
        latest = await session.scalar(
            select(func.max(expiry.column)).select_from(table).where(*conditions)
        )
        if isinstance(latest, datetime):
            until = latest + expiry.after
    return PendingHash(item.name, spec.rehash, rows, until)


async def rotate_master_key(
    sessionmaker: async_sessionmaker[AsyncSession],
    metadata: MetaData,
    cipher: FieldCipher,
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> RotationReport:
    """Bring every declared column under ``cipher``'s current master key (see the module doc)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = RotationReport(cipher.current_key_id, cipher.key_ids[1:], clock())
    columns = registry(metadata)
    counts: dict[str, ColumnCount] = {}
    for item in columns:
        spec = item.spec
        if isinstance(spec, Encrypted):
            counts[item.name] = ColumnCount(item.name, "aes-gcm")
        elif spec.rehash is Rehash.FROM_SOURCE:
            counts[item.name] = ColumnCount(item.name, "hmac")
    for plan in _plans(columns):
        await _rotate_table(sessionmaker, plan, cipher, counts, batch_size, progress)
    report.columns = list(counts.values())
    async with sessionmaker() as session:
        for item in columns:
            if isinstance(item.spec, LookupHash) and item.spec.rehash is not Rehash.FROM_SOURCE:
                pending = await _pending(session, item, report.started_at)
                if pending is not None:
                    report.pending.append(pending)
        await session.rollback()
    return report
