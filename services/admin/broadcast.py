"""Broadcasts: the audience, the per-recipient delivery state, and the worker that delivers.

Delivery is at most once per recipient: a recipient is claimed (`sending`, committed) before its
message goes out and settled (`sent` / `blocked` / `failed`) right after, so a restart resumes
with the pending ones and nobody gets a second copy. One worker holds a lease on a broadcast at a
time; messages go through the bot's send budget as bulk traffic (below Telegram's limits, after
replies and receipts, waiting out `retry_after`), and the progress message is edited in place.
Delivery state expires with the broadcast (at most 24 hours).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramServerError,
)
from sqlalchemy import ColumnElement, case, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.models import User, UserStatus
from bot.db.models.admin import (
    AudienceKind,
    AuditResult,
    Broadcast,
    BroadcastRecipient,
    BroadcastStatus,
    RecipientState,
)
from services.admin import audit
from services.admin.config import AdminSettings
from services.ports import Localiser, MessageSender
from services.sendbudget import Priority, send_priority
from services.waiting import wait_set

log = logging.getLogger(__name__)

_BATCH = 50
_MIN_PROGRESS_INTERVAL = 1.5  # the progress chat is private: about 1 message a second
# Composed text is kept under Telegram's 4096 so the preview (with its header) still fits.
MAX_TEXT = 3500


@dataclass(frozen=True, slots=True)
class Audience:
    kind: AudienceKind
    value: str | None = None  # a locale code, or a number of days

    def conditions(self, now: datetime, default_locale: str) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = [User.status != UserStatus.BANNED]
        if self.kind is AudienceKind.LOCALE:
            assert self.value is not None
            # What the user sees: the chosen language, else the one derived from their app.
            effective = func.coalesce(User.locale, User.derived_locale, default_locale)
            conds.append(effective == self.value)
        elif self.kind is AudienceKind.ACTIVE:
            assert self.value is not None
            conds.append(User.last_seen_at >= now - timedelta(days=int(self.value)))
        return conds


async def count_audience(
    session: AsyncSession, audience: Audience, now: datetime, default_locale: str
) -> int:
    value = await session.scalar(
        select(func.count()).select_from(User).where(*audience.conditions(now, default_locale))
    )
    return int(value or 0)


async def create(
    session: AsyncSession,
    settings: AdminSettings,
    *,
    admin_id: int,
    chat_id: int,
    locale: str,
    text: str,
    audience: Audience,
    default_locale: str,
    now: datetime | None = None,
) -> Broadcast:
    """The broadcast and one pending row per recipient (users who blocked the bot are settled as
    `blocked` at once and never sent to)."""
    at = now or utcnow()
    bc = Broadcast(
        admin_id=admin_id,
        progress_chat_id=chat_id,
        progress_locale=locale,
        text=text,
        audience=audience.kind,
        audience_value=audience.value,
        status=BroadcastStatus.RUNNING,
        created_at=at,
        expires_at=at + timedelta(hours=settings.retention_hours),
    )
    session.add(bc)
    await session.flush()
    state = case(
        (User.status == UserStatus.BLOCKED_BOT, literal(RecipientState.BLOCKED.value)),
        else_=literal(RecipientState.PENDING.value),
    )
    await session.execute(
        insert(BroadcastRecipient).from_select(
            ["broadcast_id", "user_id", "state"],
            select(literal(bc.id), User.id, state).where(*audience.conditions(at, default_locale)),
        )
    )
    total = await session.scalar(
        select(func.count()).where(BroadcastRecipient.broadcast_id == bc.id)
    )
    bc.total = int(total or 0)
    return bc


@dataclass(frozen=True, slots=True)
class Progress:
    total: int
    pending: int
    sent: int
    blocked: int
    failed: int

    @property
    def done(self) -> int:
        return self.sent + self.blocked + self.failed


async def progress(session: AsyncSession, broadcast_id: int) -> Progress:
    rows = await session.execute(
        select(BroadcastRecipient.state, func.count())
        .where(BroadcastRecipient.broadcast_id == broadcast_id)
        .group_by(BroadcastRecipient.state)
    )
    by_state = {RecipientState(s): int(n) for s, n in rows.all()}
    return Progress(
        total=sum(by_state.values()),
        pending=by_state.get(RecipientState.PENDING, 0) + by_state.get(RecipientState.SENDING, 0),
        sent=by_state.get(RecipientState.SENT, 0),
        blocked=by_state.get(RecipientState.BLOCKED, 0),
        failed=by_state.get(RecipientState.FAILED, 0),
    )


class BroadcastWorker:
    """Delivers running broadcasts in the background; started and stopped with the dispatcher."""

    def __init__(
        self,
        bot: MessageSender,
        sessionmaker: async_sessionmaker[AsyncSession],
        translator: Localiser,
        settings: AdminSettings,
        *,
        owner: str,
        on_tick: Callable[[], object] | None = None,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.translator = translator
        self.settings = settings
        self.owner = owner[:32]
        self.on_tick = on_tick
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="admin-broadcast-worker")

    async def stop(self) -> None:
        """Finish the message in flight, release the lease, return."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("broadcast round failed")
            self._wake.clear()
            await wait_set(self._wake, 5.0)

    async def tick(self) -> None:
        if self.on_tick is not None:
            result = self.on_tick()
            if asyncio.iscoroutine(result):
                await result
        async with self.sessionmaker() as session:
            ids = (
                await session.scalars(
                    select(Broadcast.id)
                    .where(Broadcast.status == BroadcastStatus.RUNNING)
                    .order_by(Broadcast.id)
                )
            ).all()
        for broadcast_id in ids:
            if self._stopping.is_set():
                return
            if await self._lease(broadcast_id):
                await self._deliver(broadcast_id)

    @property
    def _lease_length(self) -> timedelta:
        return timedelta(seconds=self.settings.broadcast_lease_seconds)

    async def _lease(self, broadcast_id: int) -> bool:
        now = utcnow()
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(Broadcast)
                .where(
                    Broadcast.id == broadcast_id,
                    Broadcast.status == BroadcastStatus.RUNNING,
                    or_(
                        Broadcast.lease_owner.is_(None),
                        Broadcast.lease_owner == self.owner,
                        Broadcast.lease_until < now,
                    ),
                )
                .values(lease_owner=self.owner, lease_until=now + self._lease_length)
            )
            await session.commit()
            return bool(getattr(result, "rowcount", 0))

    async def _release(self, broadcast_id: int) -> None:
        async with self.sessionmaker() as session:
            await session.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast_id, Broadcast.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )
            await session.commit()

    async def _deliver(self, broadcast_id: int) -> None:
        async with self.sessionmaker() as session:
            bc = await session.get(Broadcast, broadcast_id)
            if bc is None:
                return
            text, expires_at = bc.text, bc.expires_at
            prog = await progress(session, broadcast_id) if bc.progress_message_id is None else None
        if prog is not None:
            # Sent outside any transaction: no database lock is held across a network call.
            message_id = await self._send_progress(bc, prog)
            async with self.sessionmaker() as session:
                await session.execute(
                    update(Broadcast)
                    .where(Broadcast.id == broadcast_id)
                    .values(progress_message_id=message_id)
                )
                await session.commit()
        renewed = time.monotonic()
        last_edit = time.monotonic()
        since_edit = 0
        while not self._stopping.is_set():
            if utcnow() >= expires_at:
                await self._finish(broadcast_id, BroadcastStatus.EXPIRED)
                return
            if time.monotonic() - renewed > self._lease_length.total_seconds() / 3:
                if not await self._lease(broadcast_id):
                    return  # another instance took over
                renewed = time.monotonic()
            async with self.sessionmaker() as session:
                batch = (
                    await session.scalars(
                        select(BroadcastRecipient.user_id)
                        .where(
                            BroadcastRecipient.broadcast_id == broadcast_id,
                            BroadcastRecipient.state == RecipientState.PENDING,
                        )
                        .order_by(BroadcastRecipient.user_id)
                        .limit(_BATCH)
                    )
                ).all()
            if not batch:
                await self._finish(broadcast_id, BroadcastStatus.DONE)
                return
            for user_id in batch:
                if self._stopping.is_set():
                    break
                if not await self._claim(broadcast_id, user_id):
                    continue
                outcome = await self._send(user_id, text)
                await self._settle(broadcast_id, user_id, outcome)
                since_edit += 1
                if (
                    since_edit >= self.settings.progress_every
                    and time.monotonic() - last_edit >= _MIN_PROGRESS_INTERVAL
                ):
                    await self._edit_progress(broadcast_id)
                    since_edit = 0
                    last_edit = time.monotonic()
        await self._release(broadcast_id)

    async def _claim(self, broadcast_id: int, user_id: int) -> bool:
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(BroadcastRecipient)
                .where(
                    BroadcastRecipient.broadcast_id == broadcast_id,
                    BroadcastRecipient.user_id == user_id,
                    BroadcastRecipient.state == RecipientState.PENDING,
                )
                .values(state=RecipientState.SENDING)
            )
            await session.commit()
            return bool(getattr(result, "rowcount", 0))

    async def _settle(self, broadcast_id: int, user_id: int, outcome: RecipientState) -> None:
        async with self.sessionmaker() as session:
            await session.execute(
                update(BroadcastRecipient)
                .where(
                    BroadcastRecipient.broadcast_id == broadcast_id,
                    BroadcastRecipient.user_id == user_id,
                )
                .values(state=outcome)
            )
            if outcome is RecipientState.BLOCKED:
                await session.execute(
                    update(User)
                    .where(User.id == user_id, User.status == UserStatus.ACTIVE)
                    .values(status=UserStatus.BLOCKED_BOT)
                )
            await session.commit()

    async def _send(self, user_id: int, text: str) -> RecipientState:
        try:
            # The send budget paces this and sends it again after a 429 (not delivered then).
            with send_priority(Priority.BULK):
                await self.bot.send_message(user_id, text)
        except TelegramForbiddenError:
            return RecipientState.BLOCKED
        except (TelegramServerError, TelegramNetworkError):
            # A 5xx from a proxy or a lost answer may follow a delivery: never send twice.
            return RecipientState.FAILED
        except TelegramBadRequest:
            return RecipientState.FAILED
        return RecipientState.SENT

    async def _finish(self, broadcast_id: int, status: BroadcastStatus) -> None:
        async with self.sessionmaker() as session:
            # Claimed before a crash and never settled: unknown, so reported as failed.
            await session.execute(
                update(BroadcastRecipient)
                .where(
                    BroadcastRecipient.broadcast_id == broadcast_id,
                    BroadcastRecipient.state.in_([RecipientState.SENDING, RecipientState.PENDING]),
                )
                .values(state=RecipientState.FAILED)
            )
            bc = await session.get(Broadcast, broadcast_id)
            if bc is None:
                return
            bc.status = status
            bc.finished_at = utcnow()
            bc.lease_owner = None
            bc.lease_until = None
            audit.record(
                session,
                self.settings,
                bc.admin_id,
                audit.AuditAction.BROADCAST_DONE,
                AuditResult.OK if status is BroadcastStatus.DONE else AuditResult.FAILED,
                f"broadcast:{bc.id}",
            )
            await session.commit()
        await self._edit_progress(broadcast_id)

    async def _edit_progress(self, broadcast_id: int) -> None:
        async with self.sessionmaker() as session:
            bc = await session.get(Broadcast, broadcast_id)
            if bc is None or bc.progress_message_id is None:
                return
            prog = await progress(session, broadcast_id)
        try:
            await self.bot.edit_message_text(
                text=self.progress_text(bc, prog),
                chat_id=bc.progress_chat_id,
                message_id=bc.progress_message_id,
                reply_markup=None,
            )
        except TelegramAPIError:
            log.warning("broadcast %s: progress not updated", broadcast_id, exc_info=True)

    async def _send_progress(self, bc: Broadcast, prog: Progress) -> int | None:
        try:
            msg = await self.bot.send_message(bc.progress_chat_id, self.progress_text(bc, prog))
        except TelegramAPIError:
            log.warning("broadcast %s: no progress message", bc.id, exc_info=True)
            return None
        return msg.message_id

    def progress_text(self, bc: Broadcast, prog: Progress) -> str:
        key = {
            BroadcastStatus.RUNNING: "admin-bc-progress",
            BroadcastStatus.DONE: "admin-bc-report",
            BroadcastStatus.EXPIRED: "admin-bc-expired",
        }[bc.status]
        return self.translator.get(
            bc.progress_locale,
            key,
            id=str(bc.id),
            total=prog.total,
            done=prog.done,
            sent=prog.sent,
            blocked=prog.blocked,
            failed=prog.failed,
        )
