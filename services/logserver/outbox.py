"""The record writer: the outbox of records waiting for delivery (each body field-encrypted,
each with the next sequence number of its user's chain), and the short cache of each user's log
server state that spares users without one a write transaction per record."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.models.logserver import LogServer, LogServerState, OutboxRecord
from services.crypto.fields import FieldCipher
from services.logserver.types import RecordKind, RecordResult

log = logging.getLogger(__name__)

PURPOSE_BODY = "logserver-outbox-body"
_STATE_TTL = 2.0
# Records are stored while the group is unreachable too: they wait for it (at most 24 h).
_RECORDING = (LogServerState.ACTIVE, LogServerState.DISCONNECTED)


def outbox_row_id(user_id: int, seq: int) -> str:
    """Binds a stored body to its user and sequence number (the AES-GCM associated data)."""
    return f"{user_id}:{seq}"


class Outbox:
    """Part of `LogServerService` (needs `sessionmaker`, `fields`, `wake` and `_states`)."""

    sessionmaker: async_sessionmaker[AsyncSession]
    fields: FieldCipher
    wake: asyncio.Event
    _states: dict[int, tuple[LogServerState | None, float]]

    async def record(
        self, user_id: int, kind: RecordKind | str, body: Mapping[str, Any]
    ) -> RecordResult:
        """Store an event for the user's log server, in its own transaction (see the package
        doc); ``QUEUED`` only once the outbox row is committed. Never raises."""
        try:
            kind = RecordKind(kind)
        except ValueError:
            log.error("unknown record kind %r", kind)
            return RecordResult.FAILED
        try:
            # Most users have no log server: a cached answer spares them a write transaction.
            state = await self._state_of(user_id)
            if state is None or state is LogServerState.AWAITING_KEY:
                return RecordResult.NO_LOG_SERVER
            if state is LogServerState.PAUSED:
                return RecordResult.PAUSED
            async with self.sessionmaker() as session:
                result = await self._append(session, user_id, kind, body)
                await session.commit()
        except Exception:
            # The caller's own work must not fail because its log record could not be stored.
            log.exception("log record for user %s could not be stored", user_id)
            return RecordResult.FAILED
        if result is RecordResult.QUEUED:
            self.wake.set()
        return result

    async def record_in(
        self, session: AsyncSession, user_id: int, kind: RecordKind, body: Mapping[str, Any]
    ) -> RecordResult:
        """`record()` inside the caller's transaction (the caller commits, then wakes).

        Never raises: a record that cannot be stored is rolled back to a savepoint and reported
        as ``FAILED``, so the caller's own work (a payment) still commits.
        """
        try:
            async with session.begin_nested():
                return await self._append(session, user_id, kind, body)
        except Exception:
            log.exception("log record for user %s could not be stored", user_id)
            return RecordResult.FAILED

    async def audit(
        self, session: AsyncSession, user_id: int, event: str, **fields: Any
    ) -> RecordResult:
        """An Audit-topic record of something the user did to their log server or account
        (pause, resume, purge, disconnect, key or language change, /forget), stored in the
        caller's transaction; the worker is woken once that commits."""
        result = await self.record_in(
            session, user_id, RecordKind.AUDIT, {"event": event, **fields}
        )
        if result is RecordResult.QUEUED:
            sa_event.listen(
                session.sync_session, "after_commit", lambda _s: self.wake.set(), once=True
            )
        return result

    async def _append(
        self, session: AsyncSession, user_id: int, kind: RecordKind, body: Mapping[str, Any]
    ) -> RecordResult:
        """Take the next sequence number and store the record's row (not committed here).

        The sequence number comes from an atomic increment of the log server's row, so every
        instance hands out each number once and the row lock orders concurrent writers.
        Sealing waits for delivery; the body is field-encrypted until then.
        """
        taken = await session.execute(
            update(LogServer)
            .where(
                LogServer.user_id == user_id,
                LogServer.state.in_(_RECORDING),
                LogServer.public_key.is_not(None),
            )
            .values(next_seq=LogServer.next_seq + 1)
            .returning(LogServer.next_seq)
            .execution_options(synchronize_session=False)
        )
        after = taken.scalar_one_or_none()
        if after is None:
            state = await session.scalar(
                select(LogServer.state).where(LogServer.user_id == user_id)
            )
            self.forget_state(user_id)
            return (
                RecordResult.PAUSED
                if state is LogServerState.PAUSED
                else RecordResult.NO_LOG_SERVER
            )
        seq = int(after) - 1
        doc = json.dumps(dict(body), ensure_ascii=False, separators=(",", ":"))
        session.add(
            OutboxRecord(
                user_id=user_id,
                seq=seq,
                kind=kind.value,
                body_enc=self.fields.encrypt(PURPOSE_BODY, doc, row_id=outbox_row_id(user_id, seq)),
                created_at=utcnow(),
                attempts=0,
            )
        )
        await session.flush()
        return RecordResult.QUEUED

    def open_body(self, user_id: int, seq: int, body_enc: str) -> dict[str, Any]:
        """The stored body of record `seq` (field-decrypted)."""
        doc = self.fields.decrypt_str(PURPOSE_BODY, body_enc, row_id=outbox_row_id(user_id, seq))
        body = json.loads(doc)
        if not isinstance(body, dict):
            raise ValueError("stored record body is not an object")
        return body

    async def purge_queue(self, session: AsyncSession, user_id: int) -> int:
        """Delete `user_id`'s undelivered ciphertext now; returns how many records."""
        result = await session.execute(delete(OutboxRecord).where(OutboxRecord.user_id == user_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def queued(self, session: AsyncSession, user_id: int) -> int:
        count = await session.scalar(
            select(func.count()).select_from(OutboxRecord).where(OutboxRecord.user_id == user_id)
        )
        return int(count or 0)

    async def _state_of(self, user_id: int) -> LogServerState | None:
        """The log server's state (None: none or no key), cached for a moment: a chatty user
        must not cost a database read per record. Changes made here drop the cached value;
        another instance's change is seen within `_STATE_TTL` (`_append` re-checks anyway)."""
        now = time.monotonic()
        cached = self._states.get(user_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self.sessionmaker() as session:
            row = (
                await session.execute(
                    select(LogServer.state, LogServer.public_key.is_not(None)).where(
                        LogServer.user_id == user_id
                    )
                )
            ).first()
        state = row[0] if row is not None and row[1] else None
        if len(self._states) > 100_000:
            self._states.clear()
        self._states[user_id] = (state, now + _STATE_TTL)
        return state

    def forget_state(self, user_id: int) -> None:
        self._states.pop(user_id, None)

    def _state_changed(self, session: AsyncSession, user_id: int) -> None:
        """Drop the cached state now and again once `session` commits: a `record()` between
        the two would otherwise cache the state from before the change."""
        self.forget_state(user_id)
        sa_event.listen(
            session.sync_session, "after_commit", lambda _s: self.forget_state(user_id), once=True
        )


async def queue_depth(session: AsyncSession) -> int:
    """Records waiting in the outbox (for the admin panel)."""
    value = await session.scalar(select(func.count()).select_from(OutboxRecord))
    return int(value or 0)
