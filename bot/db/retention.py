"""The retention registry: how the purge and `/forget` treat each table.

A feature's table is covered without changing this package, in one of two ways:

* **Convention** — a timezone-aware, indexed column named ``expires_at``. The purge deletes the
  row once ``expires_at <= now``. Set it on insert to at most 24 hours ahead
  (``utcnow() + timedelta(hours=24)``). A table that uses the name for something else (the end of
  a subscription period) declares a `Retention` without ``expires``: a declaration always wins.
* **Declaration** — the table's ``info`` carries a `Retention`::

      from bot.db.retention import Retention

      class UsageDetail(Base):
          __tablename__ = "ai_usage_details"
          __table_args__ = {"info": {"retention": Retention(expires="created_at", after=DAY)}}

  ``expires`` names the column; with ``after`` it holds a creation time and the row lives
  ``after`` (≤ 24 h) past it, without it the column holds the deadline itself. Index it.

`/forget` deletes a user's rows from every table that points at ``users.id`` (directly or through
a chain of foreign keys), or that names its user column with ``user_column=``. A table whose rows
must outlive `/forget` (the payment ledger) says ``forget=Forget.KEEP`` and may ``scrub`` columns
(set to NULL). Tables of the foundation, which this package does not own, are declared below in
`DECLARED`; a feature may also call `declare()` from its model module.

Which columns are kept, encrypted or expiring is written in ``docs/privacy.md``;
``tests/integration/test_privacy_schema.py`` holds the document and this registry to the schema.

This module belongs to the core with the models (they import it to declare their expiry); the
purge and `/forget` that apply it are `services/retention`. It must stay free of imports from
``bot.db.models``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Column, Table

INFO_KEY = "retention"
CONVENTION_COLUMN = "expires_at"
USERS_TABLE = "users"
MAX_AGE = timedelta(hours=24)


class Forget(enum.StrEnum):
    DELETE = "delete"  # the user's rows go at once
    KEEP = "keep"  # rows stay (see docs/privacy.md for why); `scrub` columns are cleared


@dataclass(frozen=True, slots=True)
class Retention:
    expires: str | None = None
    after: timedelta | None = None
    forget: Forget = Forget.DELETE
    scrub: tuple[str, ...] = field(default_factory=tuple)
    user_column: str | None = None

    def __post_init__(self) -> None:
        if self.after is not None:
            if self.expires is None:
                raise ValueError("`after` needs the timestamp column in `expires`")
            if not timedelta(0) < self.after <= MAX_AGE:
                raise ValueError("personal temporary data lives at most 24 hours")
        if self.scrub and self.forget is not Forget.KEEP:
            raise ValueError("`scrub` only applies to rows kept by /forget")


DECLARED: dict[str, Retention] = {
    # The account row stays: id, role, status (bans must survive), credit balance. The language
    # choice is a personal setting and is cleared.
    USERS_TABLE: Retention(forget=Forget.KEEP, scrub=("locale", "derived_locale")),
    # The credit ledger (ids and amounts only) backs the balance and Stars refunds.
    "credit_movements": Retention(forget=Forget.KEEP),
    # Stars payments: Telegram requires refunds by charge id, and the ledger must reconcile.
    "payments": Retention(forget=Forget.KEEP),
    # `expires_at` here is the end of the paid period, not a purge deadline: never purged by it.
    "payment_subscriptions": Retention(forget=Forget.KEEP),
    # Today's use of the free AI allowance (a number): /forget must not hand out a fresh one. It
    # still expires by its own deadline.
    "ai_allowance": Retention(expires="expires_at", forget=Forget.KEEP),
}


def declare(table_name: str, policy: Retention) -> None:
    """Register a policy for a table defined elsewhere (its ``info`` wins when both exist)."""
    DECLARED[table_name] = policy


def policy_for(table: Table) -> Retention | None:
    found = table.info.get(INFO_KEY)
    if found is not None:
        if not isinstance(found, Retention):
            raise TypeError(f"{table.name}: info[{INFO_KEY!r}] must be a Retention")
        return found
    return DECLARED.get(table.name)


@dataclass(frozen=True, slots=True)
class Expiry:
    """The purge rule of one table: delete where ``column <= now - after``."""

    table: Table
    column: Column[object]
    after: timedelta

    @property
    def name(self) -> str:
        return self.table.name


def expiry_of(table: Table) -> Expiry | None:
    policy = policy_for(table)
    if policy is not None:
        if policy.expires is None:
            return None
        column = table.c.get(policy.expires)
        if column is None:
            raise LookupError(f"{table.name}: retention column {policy.expires!r} does not exist")
        return Expiry(table, column, policy.after or timedelta(0))
    column = table.c.get(CONVENTION_COLUMN)
    if column is not None:
        return Expiry(table, column, timedelta(0))
    return None


def expires_with(table: Table) -> Table | None:
    """The purged table whose deletions cascade to every row of `table`, if there is one.

    A row tied by a NOT NULL foreign key with ``ON DELETE CASCADE`` to a row that expires goes
    with it (broadcast recipients with their broadcast), so it needs no expiry of its own.
    """
    for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
        parent = fk.column.table
        if parent is table or fk.parent.nullable or (fk.ondelete or "").upper() != "CASCADE":
            continue
        if expiry_of(parent) is not None or expires_with(parent) is not None:
            return parent
    return None


def forget_mode(table: Table) -> Forget:
    policy = policy_for(table)
    return Forget.DELETE if policy is None else policy.forget


def scrub_columns(table: Table) -> tuple[str, ...]:
    policy = policy_for(table)
    return () if policy is None else policy.scrub


def declared_user_column(table: Table) -> Column[object] | None:
    policy = policy_for(table)
    if policy is None or policy.user_column is None:
        return None
    column = table.c.get(policy.user_column)
    if column is None:
        raise LookupError(f"{table.name}: user column {policy.user_column!r} does not exist")
    return column
