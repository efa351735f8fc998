"""The log server service: links, keys, records and the outbox (everything but Telegram I/O)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.models import Base
from bot.db.models.logserver import GENESIS, LogServer, LogServerState, OutboxRecord
from bot.db.retention import Forget, forget_mode
from bot.state import KeyValueState
from services.crypto import ContextLock, KeyInfo
from services.crypto.fields import FieldCipher
from services.crypto.service import CryptoService
from services.crypto.user_key_store import open_user_key, seal_user_key
from services.logserver.config import LogServerSettings
from services.logserver.types import RecordKind, RecordResult, Status
from services.retention.forget import user_condition
from services.retention.purge import expiries
from services.sendbudget import MemoryStore, SendBudget, SendBudgetSettings

log = logging.getLogger(__name__)

PURPOSE_LINK = "logserver-group-link"
PURPOSE_CHAT_HASH = "logserver-chat-id"
TOKEN_PREFIX = "ls:tok:"
ROTATE_PREFIX = "ls:rotate:"
PURPOSE_BODY = "logserver-outbox-body"
_STATE_TTL = 2.0
# Why logging is paused when the key itself is the problem (`keys.py`): only a new key resumes.
KEY_REASONS = frozenset({"key-expired", "key-revoked", "key-unusable"})
# Records are stored while the group is unreachable too: they wait for it (at most 24 h).
_RECORDING = (LogServerState.ACTIVE, LogServerState.DISCONNECTED)


def outbox_row_id(user_id: int, seq: int) -> str:
    """Binds a stored body to its user and sequence number (the AES-GCM associated data)."""
    return f"{user_id}:{seq}"


class AlreadyLinked(Exception):
    """The group is already the log server of another account."""


def thread_of(server: LogServer, kind: RecordKind) -> int | None:
    return {
        RecordKind.CHAT: server.thread_chat,
        RecordKind.BILLING: server.thread_billing,
        RecordKind.AUDIT: server.thread_audit,
        RecordKind.SYSTEM: server.thread_system,
        RecordKind.ROOMS: server.thread_rooms,
    }[kind]


def set_thread(server: LogServer, kind: RecordKind, thread_id: int | None) -> None:
    setattr(server, f"thread_{kind.value}", thread_id)


class LogServerService:
    """See the package docstring for the public API."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        crypto: CryptoService,
        kv: KeyValueState,
        settings: LogServerSettings,
        budget: SendBudget | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.crypto = crypto
        self.fields: FieldCipher = crypto.fields
        self.kv = kv
        self.settings = settings
        # The bot's one send budget: delivery asks it how many slots a group has free.
        self.budget = budget or SendBudget(SendBudgetSettings(), MemoryStore())
        # Set whenever a record is queued or a group reconnects: wakes the delivery worker.
        self.wake = asyncio.Event()
        self._chat_cache: dict[str, tuple[int, str]] = {}
        # Users whose records are being sent by a delivery worker of this process.
        self.in_flight: set[int] = set()
        self._pending: asyncio.Queue[tuple[int, RecordKind, dict[str, Any]]] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._states: dict[int, tuple[LogServerState | None, float]] = {}

    @property
    def lock(self) -> ContextLock:
        return self.crypto.context_lock

    # ------------------------------------------------------------------ the link, encrypted

    def chat_hash(self, chat_id: int) -> str:
        return self.fields.lookup_hash(PURPOSE_CHAT_HASH, chat_id)

    def encrypt_link(self, user_id: int, chat_id: int, title: str) -> str:
        doc = json.dumps({"chat_id": chat_id, "title": title}, ensure_ascii=False)
        return self.fields.encrypt(PURPOSE_LINK, doc, row_id=user_id)

    def public_key_of(self, server: LogServer) -> str | None:
        """The user's armored public key (stored field-encrypted)."""
        if server.public_key is None:
            return None
        return open_user_key(self.fields, server.user_id, server.public_key)

    def chat_of(self, server: LogServer) -> tuple[int, str]:
        """The group's chat id and title, decrypted (cached per ciphertext)."""
        cached = self._chat_cache.get(server.chat_enc)
        if cached is not None:
            return cached
        doc = json.loads(
            self.fields.decrypt_str(PURPOSE_LINK, server.chat_enc, row_id=server.user_id)
        )
        value = (int(doc["chat_id"]), str(doc["title"]))
        if len(self._chat_cache) > 10_000:
            self._chat_cache.clear()
        self._chat_cache[server.chat_enc] = value
        return value

    def head_block(self, server: LogServer) -> str | None:
        """The signed head for the pinned panel (FORMATS: cleartext-signed by the server key):
        the last delivered record's seq and digest, and the first seq this group received (so a
        reader tells a log moved here from records cut off its start); None before the first
        delivery."""
        if server.head_seq is None:
            return None
        chat_id, _ = self.chat_of(server)
        first = server.first_seq or 0
        if first > server.head_seq:  # only a row sealed by an older version went to this group
            first = server.head_seq
        return self.lock.sign_head(
            chat_id, server.head_seq, server.last_digest, datetime.now(UTC), first=first
        )

    async def get(self, session: AsyncSession, user_id: int) -> LogServer | None:
        return await session.get(LogServer, user_id)

    async def by_chat(self, session: AsyncSession, chat_id: int) -> LogServer | None:
        hashes = self.fields.lookup_hashes(PURPOSE_CHAT_HASH, chat_id)
        return await session.scalar(select(LogServer).where(LogServer.chat_hash.in_(hashes)))

    async def bind(
        self, session: AsyncSession, user_id: int, chat_id: int, title: str
    ) -> LogServer:
        """Link `user_id` to the group (replacing an earlier group). Raises `AlreadyLinked`."""
        other = await self.by_chat(session, chat_id)
        if other is not None and other.user_id != user_id:
            raise AlreadyLinked
        server = await self.get(session, user_id)
        if server is None:
            server = LogServer(
                user_id=user_id,
                chat_hash=self.chat_hash(chat_id),
                chat_enc=self.encrypt_link(user_id, chat_id, title),
                state=LogServerState.AWAITING_KEY,
                next_seq=0,
                last_digest=GENESIS,
                lost_untold=0,
            )
            session.add(server)
        else:
            same_group = other is not None
            server.chat_hash = self.chat_hash(chat_id)
            server.chat_enc = self.encrypt_link(user_id, chat_id, title)
            server.disconnect_reason = None
            if not same_group:
                # A new group: new topics and a new panel; the record chain goes on, and records
                # still waiting go to the new group (they are sealed for it at delivery).
                for kind in RecordKind:
                    setattr(server, f"thread_{kind.value}", None)
                server.panel_message_id = None
                server.panel_seq = None
                server.first_seq = None  # set by this group's first delivery
            server.state = (
                LogServerState.ACTIVE if server.public_key else LogServerState.AWAITING_KEY
            )
        await session.flush()
        self._state_changed(session, user_id)
        return server

    async def set_key(self, session: AsyncSession, server: LogServer, info: KeyInfo) -> str | None:
        """Store the user's public key; returns the previous fingerprint (a rotation) or None."""
        previous = server.key_fingerprint
        server.public_key = seal_user_key(self.fields, server.user_id, info.armored)
        server.key_fingerprint = info.fingerprint
        if server.state is LogServerState.AWAITING_KEY or self.paused_for_key(server):
            server.state = LogServerState.ACTIVE
            server.disconnect_reason = None
            self.wake.set()
        await session.flush()
        self._state_changed(session, server.user_id)
        await self.kv.delete(ROTATE_PREFIX + str(server.user_id))
        return previous

    @staticmethod
    def paused_for_key(server: LogServer) -> bool:
        return server.state is LogServerState.PAUSED and server.disconnect_reason in KEY_REASONS

    async def pause_for_key(self, session: AsyncSession, server: LogServer, reason: str) -> bool:
        """Pause logging because the key cannot be used (`keys.py`); True when newly paused."""
        if self.paused_for_key(server) and server.disconnect_reason == reason:
            return False
        server.state = LogServerState.PAUSED
        server.disconnect_reason = reason
        await session.flush()
        self._state_changed(session, server.user_id)
        return True

    async def set_paused(self, session: AsyncSession, server: LogServer, paused: bool) -> None:
        if paused and server.state is LogServerState.ACTIVE:
            server.state = LogServerState.PAUSED
        elif (
            not paused and server.state is LogServerState.PAUSED and not self.paused_for_key(server)
        ):
            server.state = LogServerState.ACTIVE
        await session.flush()
        self._state_changed(session, server.user_id)

    async def mark_disconnected(
        self, session: AsyncSession, server: LogServer, reason: str
    ) -> bool:
        """Mark the log server unreachable; True when it was reachable before (tell the user)."""
        was = server.state is not LogServerState.DISCONNECTED
        if was:
            server.state = LogServerState.DISCONNECTED
        server.disconnect_reason = reason
        await session.flush()
        self._state_changed(session, server.user_id)
        return was

    async def mark_reconnected(self, session: AsyncSession, server: LogServer) -> bool:
        """The bot is back with its rights; True when it was disconnected."""
        if server.state is not LogServerState.DISCONNECTED:
            return False
        server.state = LogServerState.ACTIVE if server.public_key else LogServerState.AWAITING_KEY
        server.disconnect_reason = None
        await session.flush()
        self._state_changed(session, server.user_id)
        self.wake.set()
        return True

    async def remove(self, session: AsyncSession, user_id: int) -> int:
        """Forget the log server of `user_id` and its queued ciphertext; returns records dropped."""
        dropped = await self.purge_queue(session, user_id)
        await session.execute(delete(LogServer).where(LogServer.user_id == user_id))
        self._state_changed(session, user_id)
        await self.kv.delete(ROTATE_PREFIX + str(user_id))
        return dropped

    async def purge_queue(self, session: AsyncSession, user_id: int) -> int:
        """Delete `user_id`'s undelivered ciphertext now; returns how many records."""
        result = await session.execute(delete(OutboxRecord).where(OutboxRecord.user_id == user_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def purge_user_data(self, session: AsyncSession, user_id: int) -> int:
        """ "Purge my central data now": every temporary personal row of `user_id` in every
        table the retention registry purges (AI context, undelivered ciphertext, …), and the
        user's one-time state. The log server link itself stays. Returns rows deleted."""
        users = Base.metadata.tables["users"]
        total = 0
        for expiry in expiries(Base.metadata):
            # Rows that must outlive /forget (the daily free allowance) outlive this too, or
            # pressing the button would hand out a fresh allowance.
            if forget_mode(expiry.table) is Forget.KEEP:
                continue
            condition = user_condition(expiry.table, users, user_id)
            if condition is None:
                continue
            result = await session.execute(delete(expiry.table).where(condition))
            total += int(result.rowcount or 0)  # type: ignore[attr-defined]
        await self.kv.delete(ROTATE_PREFIX + str(user_id))
        return total

    async def queued(self, session: AsyncSession, user_id: int) -> int:
        count = await session.scalar(
            select(func.count()).select_from(OutboxRecord).where(OutboxRecord.user_id == user_id)
        )
        return int(count or 0)

    async def status(self, session: AsyncSession, user_id: int) -> Status | None:
        server = await self.get(session, user_id)
        if server is None:
            return None
        _, title = self.chat_of(server)
        return Status(
            state=server.state.value,
            title=title,
            fingerprint=server.key_fingerprint,
            topics={kind: thread_of(server, kind) for kind in RecordKind},
            queued=await self.queued(session, user_id),
            last_delivery_at=server.last_delivery_at,
            disconnect_reason=server.disconnect_reason,
        )

    # ------------------------------------------------------------------ one-time tokens

    async def issue_token(self, user_id: int) -> str:
        """A single-use startgroup token for `user_id`, valid for `token_ttl_seconds`."""
        token = secrets.token_urlsafe(16)
        await self.kv.put(TOKEN_PREFIX + token, str(user_id), self.settings.token_ttl_seconds)
        return token

    async def redeem_token(self, token: str) -> int | None:
        """The user the token was issued to, once; None when unknown, used or expired."""
        if not token or len(token) > 64:
            return None
        value = await self.kv.take(TOKEN_PREFIX + token)
        return int(value) if value is not None else None

    async def expect_key(self, user_id: int) -> None:
        """The next public key `user_id` sends replaces their key (rotation), for 10 minutes."""
        await self.kv.put(ROTATE_PREFIX + str(user_id), "1", self.settings.token_ttl_seconds)

    async def expecting_key(self, session: AsyncSession, user_id: int) -> LogServer | None:
        """The log server a public key from `user_id` is for now, if any."""
        server = await self.get(session, user_id)
        if server is None:
            return None
        if server.state is LogServerState.AWAITING_KEY or self.paused_for_key(server):
            return server
        if await self.kv.get(ROTATE_PREFIX + str(user_id)) is not None:
            return server
        return None

    # ------------------------------------------------------------------ records

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

    # ------------------------------------------------------------------ 24 h limit

    async def drop_expired(self, now: datetime | None = None) -> dict[int, int]:
        """Delete ciphertext older than `max_age_seconds`; returns records dropped per user.

        The counts are added to `lost_untold` so the user is told even if telling fails now.
        """
        cutoff = (now or utcnow()) - timedelta(seconds=self.settings.max_age_seconds)
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(OutboxRecord.user_id, func.count())
                    .where(OutboxRecord.created_at < cutoff)
                    .group_by(OutboxRecord.user_id)
                )
            ).all()
            counts = {int(uid): int(n) for uid, n in rows}
            if not counts:
                return {}
            await session.execute(delete(OutboxRecord).where(OutboxRecord.created_at < cutoff))
            for user_id, n in counts.items():
                await session.execute(
                    update(LogServer)
                    .where(LogServer.user_id == user_id)
                    .values(lost_untold=LogServer.lost_untold + n)
                )
            await session.commit()
        log.warning("dropped undelivered records of %d log servers after 24 h", len(counts))
        return counts

    async def lost_counts(self) -> dict[int, int]:
        """Users with dropped records they have not been told about yet, and how many."""
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(LogServer.user_id, LogServer.lost_untold).where(
                        LogServer.lost_untold > 0
                    )
                )
            ).all()
        return {int(uid): int(n) for uid, n in rows}

    async def told_lost(self, user_id: int, count: int) -> None:
        async with self.sessionmaker() as session:
            await session.execute(
                update(LogServer)
                .where(LogServer.user_id == user_id)
                .values(lost_untold=LogServer.lost_untold - count)
            )
            await session.commit()


async def count_connected(session: AsyncSession) -> int:
    """Log servers that are set up and reachable (for the admin panel)."""
    value = await session.scalar(
        select(func.count())
        .select_from(LogServer)
        .where(LogServer.state.in_([LogServerState.ACTIVE, LogServerState.PAUSED]))
    )
    return int(value or 0)


async def queue_depth(session: AsyncSession) -> int:
    """Records waiting in the outbox (for the admin panel)."""
    value = await session.scalar(select(func.count()).select_from(OutboxRecord))
    return int(value or 0)
