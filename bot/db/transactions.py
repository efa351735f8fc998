"""One unit of work per use case: who owns a transaction, and how a broken rule is found.

The service that changes state commits its own transaction before it returns; the handler tells
the user after. The session middleware only provides the session: it never commits, and writes a
handler left uncommitted are rolled back and reported (`TransactionGuard.left_uncommitted`).

What counts as a write still pending in a session: objects added, changed or deleted and not yet
flushed, and statements flushed or executed (INSERT/UPDATE/DELETE) since the transaction began.
Tracked with SQLAlchemy's session events on every `Session`; the flag lives in `session.info`
and is cleared when the outermost transaction ends (commit or rollback).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction
from sqlalchemy.sql.elements import TextClause

log = logging.getLogger(__name__)

_WROTE = "libral.wrote"
_READ_ONLY_TEXT = ("SELECT", "WITH", "SHOW", "EXPLAIN")


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    statement = state.statement
    # Plain SQL: anything but a query counts as a write.
    wrote_text = isinstance(
        statement, TextClause
    ) and not statement.text.lstrip().upper().startswith(_READ_ONLY_TEXT)
    if state.is_insert or state.is_update or state.is_delete or wrote_text:
        state.session.info[_WROTE] = True


# A savepoint (`begin_nested`) keeps the flag of the level around it here while it runs: a
# savepoint rolled back undoes only its own writes, one released adds them to that level's.
_OUTER = "libral.wrote.outer"
_UNDONE = "libral.wrote.undone"


@event.listens_for(Session, "after_transaction_create")
def _after_transaction_create(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(_OUTER, []).append(session.info.pop(_WROTE, False))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    # Called before the rolled-back savepoint (or root) ends: note which one it was.
    session.info[_UNDONE] = session.get_nested_transaction()


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    info = session.info
    if transaction.parent is None:
        for key in (_WROTE, _OUTER, _UNDONE):
            info.pop(key, None)
    elif transaction.nested and info.get(_OUTER):
        outer = info[_OUTER].pop()
        undone = info.pop(_UNDONE, None) is transaction
        info[_WROTE] = outer or (not undone and info.get(_WROTE, False))


def has_pending_writes(session: AsyncSession) -> bool:
    """True while the session holds a change that is not committed."""
    sync = session.sync_session
    if sync.info.get(_WROTE) or sync.new or sync.deleted:
        return True
    return any(sync.is_modified(obj) for obj in sync.dirty)


class UncommittedWrites(RuntimeError):
    """A transaction that should only have read holds a change."""


async def finish_reading(session: AsyncSession) -> None:
    """End a transaction that only read, before a slow call (Telegram), so that it holds nothing
    meanwhile (on SQLite: the write lock `BEGIN IMMEDIATE` took). What was loaded stays loaded.

    Not a way to save changes: a pending write raises, since its owner (a service) must commit it.
    """
    if has_pending_writes(session):
        raise UncommittedWrites("finish_reading() on a session with uncommitted writes")
    if session.in_transaction():
        # Nothing to write: the COMMIT only ends the transaction. Unlike a rollback, it does not
        # expire the loaded rows (expire_on_commit is off), which the handler still renders.
        await session.commit()


@dataclass(frozen=True)
class Handling:
    """The update being handled in this context: its session and its handler's name."""

    session: AsyncSession
    handler: str


_handling: ContextVar[Handling | None] = ContextVar("libral_handling", default=None)


@contextmanager
def handling(session: AsyncSession, handler: str) -> Iterator[None]:
    """Marks `session` as the update's for the code (and the tasks it starts) inside."""
    token = _handling.set(Handling(session, handler))
    try:
        yield
    finally:
        _handling.reset(token)


_inside: ContextVar[str | None] = ContextVar("libral_inside_transaction", default=None)


@contextmanager
def calling_inside_transaction(why: str) -> Iterator[None]:
    """For the rare Bot API call that belongs inside its transaction: a claim held under a row
    lock while Telegram acts on it, undone if Telegram refuses (a refund). It tells nobody
    anything, so the guard lets it pass; `why` says why it cannot come after the commit."""
    token = _inside.set(why)
    try:
        yield
    finally:
        _inside.reset(token)


@dataclass(frozen=True)
class Violation:
    handler: str
    what: str

    def __str__(self) -> str:
        return f"{self.handler}: {self.what}"


class TransactionGuard:
    """Notes every breach of the rule (logged as an error), keeping the last few for the tests:
    the e2e harness fails a test that caused any."""

    def __init__(self, keep: int = 100) -> None:
        self.violations: deque[Violation] = deque(maxlen=keep)
        self.count = 0

    def _note(self, violation: Violation) -> None:
        self.count += 1
        self.violations.append(violation)
        log.error("unit of work broken by %s", violation)

    def told_before_commit(self, method: str) -> None:
        """Called before every Bot API call: the user must not hear of a change still pending."""
        now = _handling.get()
        if now is not None and _inside.get() is None and has_pending_writes(now.session):
            self._note(Violation(now.handler, f"{method} sent before its writes were committed"))

    def left_uncommitted(self, handler: str) -> None:
        self._note(Violation(handler, "returned with uncommitted writes (rolled back)"))


def handler_name(callback: Any) -> str:
    module = getattr(callback, "__module__", "?")
    return f"{module}.{getattr(callback, '__qualname__', repr(callback))}"
