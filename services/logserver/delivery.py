"""The delivery worker: outbox → the user's group, within Telegram's limits, nothing lost.

One loop plans; each send runs as its own task, at most one per group and `concurrency` overall.

* `record()` has stored each record (body field-encrypted) before it returned ``QUEUED``. The
  worker seals a batch only when it sends it (`chain.py`), chaining to the last record Telegram
  accepted, for the topic the group has now. One worker at a time holds a log server's *delivery
  lease* (a column of its row; on SQLite, the one-process mode, the in-memory busy set), so the
  chain is sealed in order even with several instances; a crashed worker's lease runs out after
  `lease_seconds`.
* Rows are deleted only after Telegram accepted them, in one transaction that also moves the chain
  head (`last_digest`, `head_seq`) — guarded by the head the batch was sealed from. A crash in the
  milliseconds between Telegram's answer and that commit re-sends the same records (same seq,
  prev and digest: `chain.py`), which readers recognise as copies.
* Stopping or killing the worker stops the planning loop; sends already started finish (or fail)
  as a whole, each within `request_timeout`.
* Limits: every send goes through the bot's one send budget (`services.sendbudget`, shared by
  all instances) as bulk traffic, which also waits out `retry_after` and sends again. When a
  group's queue is longer than its free slots beyond a reserve of half its limit, the queued
  records of one kind go as one coalesced document (one OpenPGP message in one `.asc` file,
  `chain.py`).
* 5xx and timeouts: the group backs off exponentially.
  403 (bot removed, group gone): the log server is disconnected and the user told; records wait.
  A topic the user deleted is created again and the records waiting for it go there.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any, Protocol

from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import User
from bot.db.models.logserver import LogServer, LogServerState, OutboxRecord
from services.logserver.chain import SealedBatch, StoredRecord, seal_batch
from services.logserver.format import Outgoing, as_document, as_message
from services.logserver.link import set_thread, thread_of
from services.logserver.onboarding import TOPIC_ICON_COLORS
from services.logserver.service import KEY_REASONS, LogServerService
from services.logserver.types import RecordKind
from services.ports import Localiser, LogSender
from services.sendbudget import Priority, Shed, send_priority
from services.waiting import wait_set

log = logging.getLogger(__name__)

_DELIVERING = (LogServerState.ACTIVE, LogServerState.PAUSED)
_PLAN_LIMIT = 5000
_DROP_EVERY = 60.0
_MIN_GAP = 0.01
# Telegram's answer when a message goes to a forum topic that was deleted.
_THREAD_GONE = "thread not found"


@dataclass(slots=True)
class _Planned:
    id: int
    seq: int
    kind: str


@dataclass
class DeliveryStats:
    """Counters for health checks, the benchmark and tests."""

    messages: int = 0
    documents: int = 0
    records: int = 0
    server_errors: int = 0
    forbidden: int = 0
    dropped: int = 0
    topics_recreated: int = 0
    seqs_sent: dict[int, list[int]] = field(default_factory=dict)


class PanelEditor(Protocol):
    """Puts the log server's current signed head on its pinned panel (`handlers.onboarding.
    panel_editor`); False when Telegram could not take the edit now."""

    async def __call__(self, server: LogServer) -> bool: ...


class _TopicMissing(Exception):
    """The topic a batch was sealed for is gone (the user deleted it)."""


class DeliveryWorker:
    def __init__(
        self,
        service: LogServerService,
        bot: LogSender,
        translator: Localiser,
        panel: PanelEditor | None = None,
    ) -> None:
        self.service = service
        self.bot = bot
        self.translator = translator
        self.panel = panel
        # Log servers whose panel shows an older head than the one delivered. Edited once the
        # group's queue is empty: one edit for a whole burst, not one per batch.
        self._heads: set[int] = set()
        self._heads_loaded = False
        cfg = service.settings
        self.cfg = cfg
        self.budget = service.budget
        self.stats = DeliveryStats()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
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
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="logserver-delivery")

    async def on_startup(self) -> None:
        self.start()

    async def stop(self) -> None:
        """Stop planning and let the sends in flight finish (each at most `request_timeout`);
        what is not sent stays in the outbox for the next start."""
        self.kill()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sends:
            # A send still waiting for the group's next free slot (20 a minute) would hold the
            # shutdown for up to a minute: it gives up instead, its rows untouched.
            self.budget.shed(self._sends)
            await asyncio.gather(*self._sends, return_exceptions=True)

    def kill(self) -> None:
        """Stop planning at once. Sends already started are not cut in half: each either
        completes with its acknowledgement or leaves its rows in the outbox."""
        if self._task is not None:
            # The flag as well as the cancel: a cancel landing inside a driver call can be
            # swallowed there, and the loop must still end (it checks at every turn).
            self._stopping = True
            self._task.cancel()

    async def _run(self) -> None:
        while not self._stopping:
            self.service.wake.clear()
            try:
                delay = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("log delivery tick failed; retrying")
                delay = self.cfg.poll_interval
            await wait_set(self.service.wake, max(delay, _MIN_GAP))
            # Let a few completions and new records gather: one plan (one outbox query) for
            # many sends rather than one per send.
            await asyncio.sleep(_MIN_GAP)

    async def drain(self, user_id: int) -> bool:
        """Deliver what waits for `user_id` now, before their log server goes away (disconnect,
        /forget): True when the outbox is empty, False after `drain_seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cfg.drain_seconds
        while True:
            async with self.service.sessionmaker() as session:
                if await self.service.queued(session, user_id) == 0:
                    return True
            if loop.time() >= deadline or not self.running:
                return False
            self.service.wake.set()
            await asyncio.sleep(_MIN_GAP * 5)

    # ------------------------------------------------------------------ planning

    async def tick(self) -> float:
        """Start every send the limits allow now; returns seconds until the next useful tick."""
        now = time.monotonic()
        if now - self._last_drop >= _DROP_EVERY:
            self._last_drop = now
            await self.drop_expired()
        wait = self.cfg.poll_interval
        async with self.service.sessionmaker() as session:
            if not self._heads_loaded and self.panel is not None:
                self._heads |= await self._stale_heads(session)
                self._heads_loaded = True
            rows = await self._due(session)
            due = {uid for uid, _ in rows}
            heads = {uid for uid in self._heads if uid not in due and uid not in self._busy}
            servers = await self._servers(session, due | heads)
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
            free = await self.budget.free(chat_id, Priority.BULK)
            if free == 0:
                continue
            batch = self._batch(planned, free)
            if not await self._claim(user_id):
                continue
            self._busy.add(user_id)
            task = asyncio.create_task(self._send(user_id, chat_id, batch))
            self._sends.add(task)
            # A done callback runs however the task ends (even cancelled before it started),
            # so the user is never left marked busy.
            task.add_done_callback(functools.partial(self._sent, user_id=user_id))
        for user_id in heads:
            if len(self._sends) >= self.cfg.concurrency:
                break
            server = servers.get(user_id)
            if server is None:
                self._heads.discard(user_id)
                continue
            # Only when the group's budget has room now: a panel edit is bulk traffic, and an
            # edit waiting for the next minute would hold up shutdown.
            chat_id, _ = self.service.chat_of(server)
            if await self.budget.free(chat_id, Priority.BULK) == 0:
                continue
            self._busy.add(user_id)
            task = asyncio.create_task(self._show_head(server))
            self._sends.add(task)
            # The group is busy while its panel is edited (one request at a time per group).
            task.add_done_callback(functools.partial(self._edited, user_id=user_id))
        return wait

    def _edited(self, task: asyncio.Task[None], *, user_id: int) -> None:
        self._sends.discard(task)
        self._busy.discard(user_id)

    async def _stale_heads(self, session: AsyncSession) -> set[int]:
        """Log servers whose panel lags behind the delivered head (after a restart)."""
        found = await session.scalars(
            select(LogServer.user_id).where(
                LogServer.head_seq.is_not(None),
                LogServer.panel_message_id.is_not(None),
                or_(LogServer.panel_seq.is_(None), LogServer.panel_seq != LogServer.head_seq),
            )
        )
        return set(found)

    async def _show_head(self, server: LogServer) -> None:
        user_id = server.user_id
        if self.panel is None or server.head_seq == server.panel_seq:
            self._heads.discard(user_id)
            return
        try:
            shown = await self.panel(server)
        except Shed:  # stopping: the next start shows it (`_stale_heads`)
            return
        except Exception:
            log.exception("the signed head could not be shown on the panel")
            shown = False
        if not shown:
            self._back_off(user_id)
            return
        self._heads.discard(user_id)
        async with self.service.sessionmaker() as session:
            await session.execute(
                update(LogServer)
                .where(LogServer.user_id == user_id)
                .values(panel_seq=server.panel_seq)
                .execution_options(synchronize_session=False)
            )
            await session.commit()

    def _sent(self, task: asyncio.Task[None], *, user_id: int) -> None:
        self._sends.discard(task)
        self._busy.discard(user_id)
        self.service.wake.set()

    async def _due(self, session: AsyncSession) -> list[tuple[int, list[_Planned]]]:
        now = utcnow()
        result = await session.execute(
            select(
                OutboxRecord.id,
                OutboxRecord.user_id,
                OutboxRecord.seq,
                OutboxRecord.kind,
            )
            .join(LogServer, LogServer.user_id == OutboxRecord.user_id)
            .where(
                LogServer.state.in_(_DELIVERING),
                # Paused for an unusable key: nothing can be sealed until a new key comes.
                or_(
                    LogServer.disconnect_reason.is_(None),
                    LogServer.disconnect_reason.not_in(KEY_REASONS),
                ),
                or_(LogServer.delivery_lease.is_(None), LogServer.delivery_lease < now),
            )
            .order_by(OutboxRecord.user_id, OutboxRecord.seq)
            .limit(_PLAN_LIMIT)
        )
        grouped: list[tuple[int, list[_Planned]]] = []
        for user_id, items in groupby(result.all(), key=lambda r: int(r[1])):
            grouped.append((user_id, [_Planned(int(r[0]), int(r[2]), str(r[3])) for r in items]))
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
        half the group's limit — the leading run of records of one kind, up to `coalesce_max`.

        The reserve keeps slots for the documents of a burst, so a backed-up group waits for
        the next minute only when it really has more than the limit allows.
        """
        reserve = self.budget.settings.group_per_minute // 2
        if len(planned) <= max(1, free - reserve):
            return [planned[0]]
        first = planned[0]
        run = [first]
        for item in planned[1:]:
            if len(run) >= self.cfg.coalesce_max:
                break
            if item.kind != first.kind or item.seq != run[-1].seq + 1:
                break
            run.append(item)
        return run

    async def _claim(self, user_id: int) -> bool:
        """Take the user's delivery lease (one sealer per chain across instances)."""
        if self._single_process:
            # SQLite is the one-process embedded mode: the in-memory `_busy` set is the claim,
            # and every write saved keeps the single database lock free for handlers.
            return True
        now = utcnow()
        async with self.service.sessionmaker() as session:
            result = await session.execute(
                update(LogServer)
                .where(
                    LogServer.user_id == user_id,
                    or_(LogServer.delivery_lease.is_(None), LogServer.delivery_lease < now),
                )
                .values(delivery_lease=now + timedelta(seconds=self.cfg.lease_seconds))
                .execution_options(synchronize_session=False)
            )
            if int(result.rowcount or 0) != 1:  # type: ignore[attr-defined]
                await session.rollback()
                return False
            await session.commit()
        return True

    # ------------------------------------------------------------------ sending

    async def _send(self, user_id: int, chat_id: int, batch: list[_Planned]) -> None:
        ids = [p.id for p in batch]
        kind = RecordKind(batch[0].kind)
        try:
            sealed = await self._seal(user_id, kind, ids)
            if sealed is None:
                await self._release(user_id, ids, failed=False)
                return
            batch_sealed, thread_id, start_digest = sealed
            with send_priority(Priority.BULK):
                await self._post(chat_id, thread_id, batch_sealed.message)
        except _TopicMissing:
            await self._release(user_id, ids, failed=False)
            await self._recreate_topic(user_id, kind)
        except Shed:  # stopping before its slot came: nothing was sent
            await self._release(user_id, ids, failed=False)
        except TelegramForbiddenError:
            self.stats.forbidden += 1
            await self._release(user_id, ids, failed=False)
            await self._disconnect(user_id, "removed")
        except TelegramBadRequest as exc:
            await self._bad_request(user_id, kind, ids, exc)
        except (TelegramServerError, TelegramNetworkError, TimeoutError) as exc:
            self.stats.server_errors += 1
            self._back_off(user_id)
            log.info("log delivery failed (%s); the group backs off", type(exc).__name__)
            await self._release(user_id, ids, failed=True)
        except Exception:
            # Anything unexpected: keep the records, back off, and say so in the log.
            log.exception("log delivery failed unexpectedly")
            self._back_off(user_id)
            await self._release(user_id, ids, failed=True)
        else:
            # Only the rows the message carries; the rest of the batch (after a row sealed by an
            # older version) waits for the next send.
            await self._ack(user_id, batch_sealed, start_digest)
            if self.panel is not None and batch_sealed.head_seq is not None:
                self._heads.add(user_id)
            self._backoff.pop(user_id, None)
            seqs = batch_sealed.message.seqs
            self.stats.records += len(seqs)
            self.stats.seqs_sent.setdefault(user_id, []).extend(seqs)

    async def _seal(
        self, user_id: int, kind: RecordKind, ids: list[int]
    ) -> tuple[SealedBatch, int | None, str] | None:
        """Load the rows and the log server as they are now and seal the batch (None: gone)."""
        async with self.service.sessionmaker() as session:
            server = await session.get(LogServer, user_id)
            rows = (
                await session.execute(
                    select(
                        OutboxRecord.id,
                        OutboxRecord.seq,
                        OutboxRecord.created_at,
                        OutboxRecord.body_enc,
                        OutboxRecord.armored,
                    )
                    .where(OutboxRecord.id.in_(ids))
                    .order_by(OutboxRecord.seq)
                )
            ).all()
        public_key = None if server is None else self.service.public_key_of(server)
        if server is None or public_key is None or not rows:
            return None
        thread_id = thread_of(server, kind)
        if thread_id is None:
            raise _TopicMissing
        chat_id, _ = self.service.chat_of(server)
        stored = [StoredRecord(int(i), int(s), kind, c, b, a) for i, s, c, b, a in rows]
        start = server.last_digest
        sealed = await asyncio.to_thread(
            seal_batch,
            self.service.lock,
            stored,
            open_body=lambda seq, enc: self.service.open_body(user_id, seq, enc),
            public_key=public_key,
            chat_id=chat_id,
            thread_id=thread_id,
            head_seq=server.head_seq,
            head_digest=start,
        )
        return sealed, thread_id, start

    async def _post(self, chat_id: int, thread_id: int | None, message: Outgoing) -> None:
        timeout = int(max(1, self.cfg.request_timeout))
        text = as_message(message)
        try:
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
            name, content, caption = as_document(message)
            await self.bot.send_document(
                chat_id,
                BufferedInputFile(content, filename=name),
                caption=caption,
                message_thread_id=thread_id,
                disable_notification=True,
                request_timeout=timeout,
            )
            self.stats.documents += 1
        except TelegramBadRequest as exc:
            if _THREAD_GONE in exc.message.lower():
                raise _TopicMissing from exc
            raise

    def _back_off(self, user_id: int) -> None:
        _, last = self._backoff.get(user_id, (0.0, 0.0))
        delay = min(self.cfg.backoff_max, last * 2 if last else self.cfg.backoff_initial)
        self._backoff[user_id] = (time.monotonic() + delay, delay)

    async def _ack(self, user_id: int, sealed: SealedBatch, start_digest: str) -> None:
        """Telegram has the message: delete its rows and move the chain head, in one commit.
        The first seq the group receives is kept for the signed head (`first`)."""
        async with self.service.sessionmaker() as session:
            await session.execute(delete(OutboxRecord).where(OutboxRecord.id.in_(sealed.ids)))
            moved = await session.execute(
                update(LogServer)
                .where(LogServer.user_id == user_id, LogServer.last_digest == start_digest)
                .values(
                    last_digest=sealed.head_digest,
                    head_seq=sealed.head_seq,
                    first_seq=func.coalesce(LogServer.first_seq, sealed.message.seqs[0]),
                    last_delivery_at=utcnow(),
                    delivery_lease=None,
                )
                .execution_options(synchronize_session=False)
            )
            if int(moved.rowcount or 0) != 1:  # type: ignore[attr-defined]
                # Another worker moved the head while this one held no valid lease (it ran out
                # during a very slow send). The records are out; say so rather than hide it.
                log.error("log chain head of user %s moved during a send", user_id)
            await session.commit()

    async def _release(self, user_id: int, ids: list[int], *, failed: bool) -> None:
        if self._single_process and not failed:
            return  # nothing was leased
        async with self.service.sessionmaker() as session:
            if failed:
                await session.execute(
                    update(OutboxRecord)
                    .where(OutboxRecord.id.in_(ids))
                    .values(attempts=OutboxRecord.attempts + 1)
                )
            if not self._single_process:
                await session.execute(
                    update(LogServer)
                    .where(LogServer.user_id == user_id)
                    .values(delivery_lease=None)
                    .execution_options(synchronize_session=False)
                )
            await session.commit()

    async def _bad_request(
        self, user_id: int, kind: RecordKind, ids: list[int], exc: TelegramBadRequest
    ) -> None:
        message = exc.message.lower()
        if "chat not found" in message or "not enough rights" in message:
            await self._release(user_id, ids, failed=False)
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
                    .values(lost_untold=LogServer.lost_untold + len(ids), delivery_lease=None)
                )
                await session.commit()
            await self._tell_lost()

    async def _recreate_topic(self, user_id: int, kind: RecordKind) -> None:
        """The user deleted a topic (or it was never made): make it again; its records follow.

        When it cannot be made (rights, a missing forum), the log server is disconnected with
        the reason "topic" and the user told; "Check again" repairs it then.
        """
        async with self.service.sessionmaker() as session:
            server = await session.get(LogServer, user_id)
            if server is None:
                return
            chat_id, _ = self.service.chat_of(server)
            locale = await session.scalar(select(User.locale).where(User.id == user_id))
            name = self.translator.get(
                self.translator.resolve_locale(locale), f"logserver-topic-{kind.value}"
            )
            try:
                topic = await self.bot.create_forum_topic(
                    chat_id, name, icon_color=TOPIC_ICON_COLORS[kind]
                )
            except (TelegramBadRequest, TelegramForbiddenError) as exc:
                log.info("a log topic could not be created again: %s", exc.message)
                set_thread(server, kind, None)
                newly = await self.service.mark_disconnected(session, server, "topic")
                await session.commit()
                if newly:
                    await self.notify(user_id, "logserver-disconnected-topic")
                return
            except (TelegramAPIError, TimeoutError):  # 5xx, a network error, 429s past waiting
                self._back_off(user_id)
                return
            set_thread(server, kind, topic.message_thread_id)
            await session.commit()
        self.stats.topics_recreated += 1
        log.info("log topic %s created again", kind.value)

    async def _disconnect(self, user_id: int, reason: str) -> None:
        async with self.service.sessionmaker() as session:
            server = await session.get(LogServer, user_id)
            if server is None:
                return
            newly = await self.service.mark_disconnected(session, server, reason)
            server.delivery_lease = None
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
        except TelegramAPIError:
            log.warning("could not tell user %s about their log server now", user_id)
            return False
        return True
