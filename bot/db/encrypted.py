"""The registry of field-encrypted and keyed-hash columns, declared on the models themselves.

Every column that holds a field-encryption token (``services.crypto.fields``) or a keyed lookup
hash says so in its ``info``, next to its definition::

    content: Mapped[str] = mapped_column(Text, info=encrypted("ai-context", bind=("user_id",)))
    chat_hash: Mapped[str] = mapped_column(
        String(64), info=lookup_hash("logserver-chat-id", source="chat_enc", json_field="chat_id")
    )

Master-key rotation (``services.crypto.rotation``) works from this registry only, so a column that
is not declared would be left under the old key: ``tests/unit/test_field_registry.py`` fails when
a column that looks encrypted or hashed, or that docs/privacy.md lists as ``aes-gcm``/``hmac``,
is missing here.

This module must stay free of imports from ``bot.db.models`` (models import it).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, MetaData, Table

INFO_KEY = "field_crypto"


@dataclass(frozen=True, slots=True)
class Encrypted:
    """A column of field-encryption tokens under ``purpose``.

    ``bind`` names the columns whose values, joined with ``:``, are the row id the token was
    bound to (``FieldCipher.encrypt(..., row_id=...)``); empty when it is not bound to its row.
    """

    purpose: str
    bind: tuple[str, ...] = ()

    def row_id(self, row: Mapping[str, Any]) -> str | None:
        if not self.bind:
            return None
        return ":".join(str(row[name]) for name in self.bind)


class Rehash(enum.StrEnum):
    """How a keyed-hash column comes to be under the current master key after a rotation."""

    # Recomputed by the rotation from the plaintext kept (encrypted) in ``source``.
    FROM_SOURCE = "from-source"
    # The plaintext is not stored: the row is rewritten the next time its owner writes to the
    # bot; until then look-ups try the hash under every known master key.
    ON_CONTACT = "on-contact"
    # The plaintext is not stored and the row expires within 24 hours: look-ups try every known
    # master key until the rows written before the rotation are gone.
    EXPIRES = "expires"


@dataclass(frozen=True, slots=True)
class LookupHash:
    """A column of ``FieldCipher.lookup_hash(purpose, value)`` values.

    With ``source`` (an encrypted column of the same row) the value is that column's plaintext,
    or its JSON field ``json_field``. ``literals`` are plain values the column may also hold
    (``private``), which no key changes. ``seen`` (for ``ON_CONTACT``) names the column that tells
    when the row was last refreshed.
    """

    purpose: str
    rehash: Rehash
    source: str | None = None
    json_field: str | None = None
    literals: tuple[str, ...] = ()
    seen: str | None = None

    def __post_init__(self) -> None:
        if (self.rehash is Rehash.FROM_SOURCE) != (self.source is not None):
            raise ValueError("a hash is recomputed from its source column exactly when it has one")
        if self.rehash is Rehash.ON_CONTACT and self.seen is None:
            raise ValueError("an on-contact hash names the column that says when it was refreshed")


def encrypted(purpose: str, *, bind: tuple[str, ...] = ()) -> dict[str, Any]:
    """``info`` for a field-encrypted column."""
    return {INFO_KEY: Encrypted(purpose, bind)}


def lookup_hash(
    purpose: str,
    *,
    source: str | None = None,
    json_field: str | None = None,
    rehash: Rehash | None = None,
    literals: tuple[str, ...] = (),
    seen: str | None = None,
) -> dict[str, Any]:
    """``info`` for a keyed-hash column (recomputed from ``source`` when one is given)."""
    how = rehash if rehash is not None else (Rehash.FROM_SOURCE if source else Rehash.EXPIRES)
    return {INFO_KEY: LookupHash(purpose, how, source, json_field, literals, seen)}


@dataclass(frozen=True, slots=True)
class FieldColumn:
    table: Table
    column: Column[Any]
    spec: Encrypted | LookupHash

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name}"


def registry(metadata: MetaData) -> list[FieldColumn]:
    """Every declared column, by table then column order; checks the declarations hold."""
    found: list[FieldColumn] = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            spec = column.info.get(INFO_KEY)
            if spec is None:
                continue
            if not isinstance(spec, Encrypted | LookupHash):
                raise TypeError(f"{table.name}.{column.name}: info[{INFO_KEY!r}] is not a spec")
            names = spec.bind if isinstance(spec, Encrypted) else (spec.source, spec.seen)
            for name in names:
                if name is not None and name not in table.c:
                    raise LookupError(f"{table.name}.{column.name}: no column {name!r}")
            if isinstance(spec, LookupHash) and spec.source is not None:
                source = table.c[spec.source].info.get(INFO_KEY)
                if not isinstance(source, Encrypted):
                    raise LookupError(
                        f"{table.name}.{column.name}: source {spec.source!r} is not encrypted"
                    )
            found.append(FieldColumn(table, column, spec))
    return found
