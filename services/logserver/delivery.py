"""The delivery worker: outbox → the user's group, within Telegram's limits, nothing lost.

One loop plans; each send runs as its own task, at most one per group and `concurrency` overall.

* A row is *claimed* (a lease in the database; on SQLite, the one-process mode, an in-memory
  claim shared by the process's workers) before it is sent and deleted only after Telegram
  accepted it, in one transaction with `last_delivery_at`. Several workers (instances) never send
  the same row; a crashed worker's rows are free again when the lease runs out. A send that timed
  out may have arrived: it is sent again (same sequence number, recognisable as a duplicate).
* Cancelling the worker (shutdown, or a test killing it) does not cut a send in half: the send
  and its acknowledgement are shielded, so either both happen or neither. Only a hard crash in the
  milliseconds between Telegram's answer and the commit can repeat a record; the copy has the
  same sequence number and ciphertext, and readers drop it.
* Limits: our own sliding windows (`RateLimiter`) keep under 20 messages a minute per group and
  30 a second overall (per process: several instances share Telegram's limits but not these
  windows, and then rely on `retry_after`). When a group's queue is longer than its free slots
  beyond a reserve of half its limit, the queued records of one topic go as one `.asc` document.
* 429: the group waits `retry_after`. 5xx and timeouts: the group backs off exponentially.
  403 (bot removed, group gone): the log server is disconnected and the user told; records wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import User
from bot.db.models.logserver import LogServer, LogServerState, OutboxRecord
from bot.i18n import Translator
from services.logserver.format import Outgoing, as_document, as_message
from services.logserver.limiter import Slot
from services.logserver.service import LogServerService
from services.logserver.types import RecordKind

log = logging.getLogger(__name__)

_DELIVERING = (LogServerState.ACTIVE, LogServerState.PAUSED)
_PLAN_LIMIT = 5000
_DROP_EVERY = 60.0
_MIN_GAP = 0.01


@dataclass(slots=True)
class _Planned:
    id: int
    seq: int
    kind: str
    thread_id: int | None


@dataclass
class DeliveryStats:
    """Counters for health checks, the benchmark and tests."""

    messages: int = 0
    documents: int = 0
    records: int = 0
    retry_after: int = 0
    server_errors: int = 0
    forbidden: int = 0
    dropped: int = 0
    seqs_sent: dict[int, list[int]] = field(default_factory=dict)


class DeliveryWorker:
    def __init__(
        self,
        service: LogServerService,
        bot: Bot,
        translator: Translator,
    ) -> None:
        self.service = service
        self.bot = bot
        self.translator = translator
        cfg = service.settings
        self.cfg = cfg
        self.limiter = service.limiter
        self.stats = DeliveryStats()
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        # Users with a send in flight, shared by every worker of this process (a restarted
        # worker must not pick rows its predecessor is still sending).
        self._busy = service.in_flight
        self._backoff: dict[int, tuple[float, float]] = {}  # user -> (until, last delay)
        self._last_drop = 0.0
        bind = service.sessionmaker.kw.get("bind")
        self._single_process = bind is not None and bind.dialect.name == "sqlite"

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="logserver-delivery")

    async def on_startup(self) -> None:
        self.start()

    async def stop(self) -> None:
        """Store queued records, stop planning, let the sends in flight finish (each at most
        `request_timeout`); what is not sent stays in the outbox for the next start."""
        await self.service.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)

    def kill(self) -> None:
        """Cancel everything at once, as a crash would (sends already at Telegram complete)."""
        if self._task is not None:
            self._task.cancel()
        for task in self._sends:
            task.cancel()

    async def _run(self) -> None:
        while True:
            self.service.wake.clear()
            try:
                delay = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("log delivery tick failed; retrying")
                delay = self.cfg.poll_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.service.wake.wait(), max(delay, _MIN_GAP))
            # Let a few completions and new records gather: one plan (one outbox query) for
            # many sends rather than one per send.
            await asyncio.sleep(_MIN_GAP)

    # ------------------------------------------------------------------ planning

    async def tick(self) -> float:
        """Start every send the limits allow now; returns seconds until the next useful tick."""
        now = time.monotonic()
        if now - self._last_drop >= _DROP_EVERY:
            self._last_drop = now
            await self.drop_expired()
        wait = self.cfg.poll_interval
        async with self.service.sessionmaker() as session:
            rows = await self._due(session)
            servers = await self._servers(session, {uid for uid, _ in rows})
        for user_id, planned in rows:
            if len(self._sends) >= self.cfg.concurrency:
                break
            if user_id in self._busy:
                continue
            until = self._backoff.get(user_id, (0.0, 0.0))[0]
            if until > now:
                wait = min(wait, until - now)
                continue
            server = servers.get(user_id)
            if server is None:
                continue
            chat_id, _ = self.service.chat_of(server)
            if self.limiter.global_free() == 0:
                wait = min(wait, self.limiter.global_next_free_at() - now)
                break
            free = self.limiter.group_free(chat_id)
            if free == 0:
                wait = min(wait, self.limiter.next_free_at(chat_id) - now)
                continue
            batch = self._batch(planned, free)
            if not await self._claim(batch):
                continue
            slot = self.limiter.take(chat_id)
            self._busy.add(user_id)
            task = asyncio.create_task(self._send(user_id, chat_id, batch, slot))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)
        return wait

    async def _due(self, session: AsyncSession) -> list[tuple[int, list[_Planned]]]:
        now = utcnow()
        result = await session.execute(
            select(
                OutboxRecord.id,
                OutboxRecord.user_id,
                OutboxRecord.seq,
                OutboxRecord.kind,
                OutboxRecord.thread_id,
            )
            .join(LogServer, LogServer.user_id == OutboxRecord.user_id)
            .where(
                LogServer.state.in_(_DELIVERING),
                or_(OutboxRecord.lease_until.is_(None), OutboxRecord.lease_until < now),
            )
            .order_by(OutboxRecord.user_id, OutboxRecord.seq)
            .limit(_PLAN_LIMIT)
        )
        grouped: list[tuple[int, list[_Planned]]] = []
        for user_id, items in groupby(result.all(), key=lambda r: int(r[1])):
            grouped.append(
                (user_id, [_Planned(int(r[0]), int(r[2]), str(r[3]), r[4]) for r in items])
            )
        # Oldest waiting group first, so no group starves behind a busy one.
        grouped.sort(key=lambda item: item[1][0].id)
        return grouped

    @staticmethod
    async def _servers(session: AsyncSession, user_ids: set[int]) -> dict[int, LogServer]:
        if not user_ids:
            return {}
        found = await session.scalars(select(LogServer).where(LogServer.user_id.in_(user_ids)))
        return {s.user_id: s for s in found}

    def _batch(self, planned: Sequence[_Planned], free: int) -> list[_Planned]:
        """One record, or — when the queue is longer than the free slots beyond a reserve of
        half the group's limit — the leading run of records of one topic, up to `coalesce_max`.

        The reserve keeps slots for the documents of a burst, so a backed-up group waits for
        the next minute only when it really has more than the limit allows.
        """
        reserve = self.cfg.group_per_minute // 2
        if len(planned) <= max(1, free - reserve):
            return [planned[0]]
        first = planned[0]
        run = [first]
        for item in planned[1:]:
            if len(run) >= self.cfg.coalesce_max:
                break
            if item.thread_id != first.thread_id or item.kind != first.kind:
                break
            if item.seq != run[-1].seq + 1:
                break
            run.append(item)
        return run

    async def _claim(self, batch: Sequence[_Planned]) -> bool:
        if self._single_process:
            # SQLite is the one-process embedded mode: the in-memory `_busy` set is the claim,
            # and every write saved keeps the single database lock free for handlers.
            return True
        now = utcnow()
        ids = [p.id for p in batch]
        async with self.service.sessionmaker() as session:
            result = await session.execute(
                update(OutboxRecord)
                .where(
                    OutboxRecord.id.in_(ids),
                    or_(OutboxRecord.lease_until.is_(None), OutboxRecord.lease_until < now),
                )
                .values(lease_until=now + timedelta(seconds=self.cfg.lease_seconds))
            )
            if int(result.rowcount or 0) != len(ids):  # type: ignore[attr-defined]
                await session.rollback()
                return False
            await session.commit()
        return True

    # ------------------------------------------------------------------ sending

    async def _send(self, user_id: int, chat_id: int, batch: list[_Planned], slot: Slot) -> None:
        try:
            # Shielded: a cancelled worker still finishes (or abandons) this send as a whole.
            await asyncio.shield(self._send_and_ack(user_id, chat_id, batch))
        except asyncio.CancelledError:
            pass
        finally:
            self.limiter.done(slot)
            self._busy.discard(user_id)
            self.service.wake.set()

    async def _send_and_ack(self, user_id: int, chat_id: int, batch: list[_Planned]) -> None:
        ids = [p.id for p in batch]
        try:
            outgoing = await self._load(ids)
            if not outgoing:
                return
            await self._post(chat_id, batch[0].thread_id, outgoing)
        except TelegramRetryAfter as exc:
            self.stats.retry_after += 1
            self.limiter.block(chat_id, float(exc.retry_after))
            log.info("429 from Telegram: group waits %s s", exc.retry_after)
            await self._release(ids, failed=False)
        except TelegramForbiddenError:
            self.stats.forbidden += 1
            await self._release(ids, failed=False)
            await self._disconnect(user_id, "removed")
        except TelegramBadRequest as exc:
            await self._bad_request(user_id, ids, exc)
        except (TelegramServerError, TelegramNetworkError, TimeoutError) as exc:
            self.stats.server_errors += 1
            self._back_off(user_id)
            log.info("log delivery failed (%s); the group backs off", type(exc).__name__)
            await self._release(ids, failed=True)
        except Exception:
            # Anything unexpected: keep the records, back off, and say so in the log.
            log.exception("log delivery failed unexpectedly")
            self._back_off(user_id)
            await self._release(ids, failed=True)
        else:
            await self._ack(user_id, ids)
            self._backoff.pop(user_id, None)
            self.stats.records += len(outgoing)
            self.stats.seqs_sent.setdefault(user_id, []).extend(o.seq for o in outgoing)

    async def _load(self, ids: list[int]) -> list[Outgoing]:
        async with self.service.sessionmaker() as session:
            rows = await session.execute(
                select(
                    OutboxRecord.seq,
                    OutboxRecord.kind,
                    OutboxRecord.armored,
                    OutboxRecord.created_at,
                )
                .where(OutboxRecord.id.in_(ids))
                .order_by(OutboxRecord.seq)
            )
            return [Outgoing(int(s), RecordKind(k), a, c) for s, k, a, c in rows.all()]

    async def _post(self, chat_id: int, thread_id: int | None, records: list[Outgoing]) -> None:
        timeout = int(max(1, self.cfg.request_timeout))
        text = as_message(records[0]) if len(records) == 1 else None
        if text is not None:
            await self.bot.send_message(
                chat_id,
                text,
                message_thread_id=thread_id,
                disable_notification=True,
                request_timeout=timeout,
            )
            self.stats.messages += 1
            return
        name, content, caption = as_document(records)
        await self.bot.send_document(
            chat_id,
            BufferedInputFile(content, filename=name),
            caption=caption,
            message_thread_id=thread_id,
            disable_notification=True,
            request_timeout=timeout,
        )
        self.stats.documents += 1

    def _back_off(self, user_id: int) -> None:
        _, last = self._backoff.get(user_id, (0.0, 0.0))
        delay = min(self.cfg.backoff_max, last * 2 if last else self.cfg.backoff_initial)
        self._backoff[user_id] = (time.monotonic() + delay, delay)

    async def _ack(self, user_id: int, ids: list[int]) -> None:
        async with self.service.sessionmaker() as session:
            await session.execute(delete(OutboxRecord).where(OutboxRecord.id.in_(ids)))
            await session.execute(
                update(LogServer)
                .where(LogServer.user_id == user_id)
                .values(last_delivery_at=utcnow())
            )
            await session.commit()

    async def _release(self, ids: list[int], *, failed: bool) -> None:
        if self._single_process and not failed:
            return  # nothing was leased
        values: dict[str, Any] = {"lease_until": None}
        if failed:
            values["attempts"] = OutboxRecord.attempts + 1
        async with self.service.sessionmaker() as session:
            await session.execute(
                update(OutboxRecord).where(OutboxRecord.id.in_(ids)).values(**values)
            )
            await session.commit()

    async def _bad_request(self, user_id: int, ids: list[int], exc: TelegramBadRequest) -> None:
        message = exc.message.lower()
        if "thread not found" in message or "topic" in message:
            await self._release(ids, failed=False)
            await self._disconnect(user_id, "topic")
        elif "chat not found" in message or "not enough rights" in message:
            await self._release(ids, failed=False)
            await self._disconnect(user_id, "removed")
        else:
            # Telegram will never take these bytes: drop them and count them as lost.
            log.error("log record refused by Telegram (%s); dropped", exc.message)
            self.stats.dropped += len(ids)
            async with self.service.sessionmaker() as session:
                await session.execute(delete(OutboxRecord).where(OutboxRecord.id.in_(ids)))
                await session.execute(
                    update(LogServer)
                    .where(LogServer.user_id == user_id)
                    .values(lost_untold=LogServer.lost_untold + len(ids))
                )
                await session.commit()
            await self._tell_lost()

    async def _disconnect(self, user_id: int, reason: str) -> None:
        async with self.service.sessionmaker() as session:
            server = await session.get(LogServer, user_id)
            if server is None:
                return
            newly = await self.service.mark_disconnected(session, server, reason)
            await session.commit()
        if newly:
            await self.notify(user_id, "logserver-disconnected-" + reason)

    # ------------------------------------------------------------------ 24 h and telling users

    async def drop_expired(self, now: datetime | None = None) -> None:
        """Drop ciphertext past its 24 hours and tell the users how many records they lost."""
        dropped = await self.service.drop_expired(now)
        self.stats.dropped += sum(dropped.values())
        await self._tell_lost()

    async def _tell_lost(self) -> None:
        for user_id, count in (await self.service.lost_counts()).items():
            if await self.notify(user_id, "logserver-records-lost", count=count):
                await self.service.told_lost(user_id, count)

    async def notify(self, user_id: int, key: str, **args: Any) -> bool:
        """Tell the user in private chat, in their language; False when Telegram refused."""
        async with self.service.sessionmaker() as session:
            locale = await session.scalar(select(User.locale).where(User.id == user_id))
        text = self.translator.get(self.translator.resolve_locale(locale), key, **args)
        try:
            await self.bot.send_message(user_id, text)
        except (TelegramForbiddenError, TelegramBadRequest):
            log.info("could not tell user %s about their log server", user_id)
            return False
        except (TelegramServerError, TelegramNetworkError, TelegramRetryAfter):
            log.warning("could not tell user %s about their log server now", user_id)
            return False
        return True
