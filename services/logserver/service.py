"""The log server service: one user's log server from link to removal (its state machine),
composed of the parts each module holds:

* `link.py` — the group link, encrypted, and its topics;
* `tokens.py` — the one-time link token and the key-rotation window;
* `outbox.py` — the record writer (sequence numbers, encrypted bodies, the state cache);
* `expiry.py` — the 24 h drop of undelivered records;
* `chain.py` — sealing a batch into the chain (at delivery); `delivery.py` — the Telegram side.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Base
from bot.db.models.logserver import GENESIS, LogServer, LogServerState
from bot.db.retention import Forget, forget_mode
from bot.state import KeyValueState
from services.crypto import ContextLock, KeyInfo
from services.crypto.fields import FieldCipher
from services.crypto.service import CryptoService
from services.crypto.user_key_store import seal_user_key
from services.logserver.config import LogServerSettings
from services.logserver.expiry import Expiry
from services.logserver.link import AlreadyLinked, GroupLinks, thread_of
from services.logserver.outbox import Outbox
from services.logserver.tokens import LinkTokens
from services.logserver.types import RecordKind, Status
from services.retention.forget import user_condition
from services.retention.purge import expiries
from services.sendbudget import MemoryStore, SendBudget, SendBudgetSettings

# Why logging is paused when the key itself is the problem (`keys.py`): only a new key resumes.
KEY_REASONS = frozenset({"key-expired", "key-revoked", "key-unusable"})


class LogServerService(GroupLinks, LinkTokens, Outbox, Expiry):
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
        self._states: dict[int, tuple[LogServerState | None, float]] = {}

    @property
    def lock(self) -> ContextLock:
        return self.crypto.context_lock

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
        await self.end_rotation(server.user_id)
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
        await self.end_rotation(user_id)
        return dropped

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
        await self.end_rotation(user_id)
        return total

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

    async def expecting_key(self, session: AsyncSession, user_id: int) -> LogServer | None:
        """The log server a public key from `user_id` is for now, if any."""
        server = await self.get(session, user_id)
        if server is None:
            return None
        if server.state is LogServerState.AWAITING_KEY or self.paused_for_key(server):
            return server
        if await self.rotating(user_id):
            return server
        return None


async def count_connected(session: AsyncSession) -> int:
    """Log servers that are set up and reachable (for the admin panel)."""
    value = await session.scalar(
        select(func.count())
        .select_from(LogServer)
        .where(LogServer.state.in_([LogServerState.ACTIVE, LogServerState.PAUSED]))
    )
    return int(value or 0)
