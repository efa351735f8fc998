"""Outermost update middlewares: metrics, the error boundary (with retries) and de-duplication.

"Handled" means done: an update counts as handled when its handler finished, or when its failure
was final and the user was told. A transient failure (the database or Redis unreachable, a pooled
connection found dead) runs the update again, here, until it succeeds or the retry budget is
spent; the user hears once that the answer is delayed. In polling mode Telegram's offset has moved
on, so this retry is the only one. In webhook mode the update is answered only once handled
(bot/web.py), and its de-duplication key is a lease while it is being handled: if the process
dies mid-way, Telegram's redelivery (nginx sends it to another instance) runs it again once the
lease has run out, instead of finding it "already handled".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import redis.exceptions
import sqlalchemy.exc
from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramForbiddenError
from aiogram.types import MaybeInaccessibleMessageUnion, Message, TelegramObject, Update, User
from aiogram.types.update import UpdateTypeLookupError

from bot.i18n import Translator
from bot.metrics import Metrics
from bot.state import KeyValueState
from middlewares.callbacks import track_answers, was_answered
from middlewares.data import Delivery, WebhookDelivery, put, view
from services.waiting import wait_set

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# Telegram redelivers an update for at most a day; an hour covers every retry we have seen.
DEDUP_TTL = 3600.0
# While an update is being handled its key is a lease of this length, renewed every third of it:
# a process killed mid-update frees it within this time. Long enough that a loaded event loop
# never misses a renewal.
UPDATE_LEASE_SECONDS = 30.0
BUSY = "busy"
DONE = "done"
# Retries of a transiently failed update: at once (a dead pooled connection is replaced on the
# next checkout), then backing off up to RETRY_MAX_DELAY, for RETRY_BUDGET seconds in all.
RETRY_BUDGET_SECONDS = 600.0
RETRY_MAX_DELAY_SECONDS = 5.0

_TRANSIENT: tuple[type[BaseException], ...] = (
    # PostgreSQL/SQLite unreachable or locked, a connection closed under us, the pool exhausted.
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    sqlalchemy.exc.DisconnectionError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
)


def is_charge(update: Update) -> bool:
    """A `successful_payment`: Telegram has taken the Stars. Keyed by its charge id (not the
    update id), and never answered with "try again", which would invite a second payment."""
    return update.message is not None and update.message.successful_payment is not None


def is_transient(error: BaseException) -> bool:
    """True for failures that another attempt can cure, including ones re-raised `from` them."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, _TRANSIENT):
            return True
        if isinstance(seen, sqlalchemy.exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__
    return False


class InFlightMiddleware(BaseMiddleware):
    """Tracks the updates being handled, so that shutdown can wait for them (`drain`).

    Registered first among the shutdown handlers: services stop only after the updates that
    were already taken from Telegram (whose offset moved on, or whose webhook got its 200) are
    done, instead of failing half-way on a closed session.
    """

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        # Set when shutdown begins: the error boundary stops retrying (see there).
        self.stopping = asyncio.Event()
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        self._count += 1
        self._idle.clear()
        try:
            return await handler(event, data)
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    @property
    def count(self) -> int:
        return self._count

    async def drain(self) -> None:
        self.stopping.set()
        if not await wait_set(self._idle, self.timeout):
            log.warning("shutting down with %d updates still being handled", self._count)


UNKNOWN_KIND = "unknown"


def kind_of(update: Update) -> str:
    """The update's type, or "unknown" for one that carries no kind this aiogram knows (only an
    update_id, or a kind added to the Bot API later)."""
    try:
        return update.event_type
    except UpdateTypeLookupError:
        return UNKNOWN_KIND


class MetricsMiddleware(BaseMiddleware):
    """Counts every update and its handling time (errors are counted by the error boundary).

    An update of no known kind is counted and dropped here: nothing could handle it, and
    aiogram's own warning for it would print the whole update (personal data) to the log.
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        kind = kind_of(event)
        if kind == UNKNOWN_KIND:
            self.metrics.updates.labels(kind).inc()
            log.info("update %s has no kind this version handles; skipped", event.update_id)
            return None
        started = time.perf_counter()
        try:
            return await handler(event, data)
        finally:
            self.metrics.updates.labels(kind).inc()
            self.metrics.latency.labels(kind).observe(time.perf_counter() - started)


class ErrorBoundaryMiddleware(BaseMiddleware):
    """Retries transient failures; logs a final one with the update id, counts it in
    `libral_errors_total` and tells the user, in their language, that it failed.

    A final failure is not re-raised: aiogram would only log it again.
    """

    def __init__(
        self,
        translator: Translator,
        metrics: Metrics,
        *,
        retry_budget: float = RETRY_BUDGET_SECONDS,
        max_delay: float = RETRY_MAX_DELAY_SECONDS,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.translator = translator
        self.metrics = metrics
        # Once set (shutdown), a transient failure is final: the process must be able to stop.
        self.stopping = stopping or asyncio.Event()
        self.retry_budget = retry_budget
        self.max_delay = max_delay

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        delivery = Delivery()
        put(data, delivery=delivery)
        try:
            with track_answers():
                result = await self._attempts(handler, event, data, delivery)
        except BaseException:
            # Cut off (cancelled at shutdown, or an error we do not handle): not done.
            if delivery.settle is not None:
                await asyncio.shield(delivery.settle(False))
            raise
        if delivery.settle is not None:
            await delivery.settle(True)
        return result

    async def _attempts(
        self, handler: Handler, event: Update, data: dict[str, Any], delivery: Delivery
    ) -> Any:
        started = time.monotonic()
        counted = False
        while True:
            attempt = dict(data)
            try:
                return await handler(event, attempt)
            except TelegramForbiddenError as error:
                # The user blocked the bot, or the bot was removed from the group, while this
                # update was handled: Telegram refuses every call to that chat, the apology
                # included. Nothing failed on our side and nobody is left to tell.
                log.info(
                    "update %s (%s): the chat is gone (%s); dropped",
                    event.update_id,
                    kind_of(event),
                    error.message,
                )
                return None
            except Exception as error:
                if not counted:
                    self.metrics.errors.labels(kind_of(event)).inc()
                    counted = True
                elapsed = time.monotonic() - started
                retry = (
                    is_transient(error)
                    and elapsed < self.retry_budget
                    and not self.stopping.is_set()
                    # Telegram cancels a checkout not answered within 10 s: answer it now.
                    and not (event.pre_checkout_query is not None and delivery.attempt >= 1)
                )
                if not retry:
                    log.exception("update %s (%s) failed", event.update_id, kind_of(event))
                    await self._tell(event, attempt, "error-generic")
                    return None
                delivery.attempt += 1
                log.warning(
                    "update %s (%s): transient failure (%s), attempt %d; retrying",
                    event.update_id,
                    kind_of(event),
                    type(error).__name__,
                    delivery.attempt,
                )
                if delivery.attempt >= 2 and not delivery.told_unavailable:
                    delivery.told_unavailable = True
                    await self._tell(event, attempt, "error-unavailable")
                if delivery.attempt > 1:
                    delay = min(self.max_delay, 0.5 * 2 ** (delivery.attempt - 2))
                    # Woken by shutdown: one last attempt, then final.
                    await wait_set(self.stopping, delay)

    async def _tell(self, update: Update, data: dict[str, Any], key: str) -> None:
        bot: Bot | None = data.get("bot")
        user: User | None = data.get("event_from_user")
        i18n = view(data).get("i18n")
        locale = (
            i18n.locale
            if i18n
            else self.translator.resolve_locale(user.language_code if user else None)
        )
        final = key == "error-generic"
        if is_charge(update):
            # The charge is recorded, or Telegram's redelivery and the reconciliation job will
            # record it: the truth is "received, credits on the way", never "try again".
            key = "pay-receipt-pending"
        text = self.translator.get(locale, key)
        try:
            if update.callback_query is not None:
                query = update.callback_query
                if final and not was_answered(query.id):
                    await query.answer(text, show_alert=True)
                elif bot is not None and query.message is not None:
                    # Not final: the press itself is answered by the handler once it runs.
                    # Final after the handler answered: Telegram would refuse a second answer.
                    await bot.send_message(
                        query.message.chat.id,
                        text,
                        message_thread_id=_topic_of(query.message),
                    )
            elif update.pre_checkout_query is not None:
                await update.pre_checkout_query.answer(ok=False, error_message=text)
            elif update.message is not None and bot is not None:
                await bot.send_message(
                    update.message.chat.id,
                    text,
                    message_thread_id=update.message.message_thread_id
                    if update.message.is_topic_message
                    else None,
                )
        except Exception:
            log.warning("could not tell the user about update %s", update.update_id, exc_info=True)


def _topic_of(message: MaybeInaccessibleMessageUnion) -> int | None:
    if isinstance(message, Message) and message.is_topic_message:
        return message.message_thread_id
    return None


class RateCounter(Protocol):
    """The sender's rate (middlewares/throttling.py), counted here with the claim."""

    window: float

    def counter(self, event: Update, data: dict[str, Any]) -> str | None: ...


class DeduplicateMiddleware(BaseMiddleware):
    """Each update id is handled once across redeliveries and instances, except a
    `successful_payment`, whose effect is keyed by its charge id instead.

    The key `upd:<id>` is first a lease (`busy`, `lease` seconds, renewed while the update is
    handled) and becomes `done` for DEDUP_TTL once it is handled (`Delivery.settle`). A copy that
    finds it `done` is skipped. A copy that finds it `busy` is skipped in polling mode (the holder
    is this process); in webhook mode it is answered non-2xx (`WebhookDelivery.in_progress`), so
    Telegram delivers it again: the holder finishes it meanwhile, or died and its lease runs out.
    The key is kept across the error boundary's retries (they are this update's own attempts).

    With `rate`, the sender's rate counter is counted in the same round trip as the claim, and
    only for an update this process claimed (a copy is not counted against its sender).
    """

    def __init__(
        self,
        state: KeyValueState,
        metrics: Metrics,
        *,
        lease: float = UPDATE_LEASE_SECONDS,
        rate: RateCounter | None = None,
    ) -> None:
        self.state = state
        self.metrics = metrics
        self.lease = lease
        self.rate = rate

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        if is_charge(event):
            # Idempotent by its charge id. A copy must run again: if the first was killed
            # mid-way (kill -9 between Telegram's charge and our commit), only it can credit.
            return await handler(event, data)
        delivery = view(data).get("delivery")
        if delivery is not None and delivery.claimed:
            return await handler(event, data)
        key = f"upd:{event.update_id}"
        # Counted here only when an error boundary carries the count on to the throttling.
        counter = (
            self.rate.counter(event, data)
            if self.rate is not None and delivery is not None and not delivery.throttle_passed
            else None
        )
        window = self.rate.window if self.rate is not None else 0.0
        admission = await self.state.admit(key, self.lease, counter, window)
        if not admission.claimed:
            held = admission.held
            webhook = view(data).get("webhook")
            if held != DONE and isinstance(webhook, WebhookDelivery):
                webhook.in_progress = True
                log.info("update %s is being handled elsewhere; asked for later", event.update_id)
                return None
            self.metrics.duplicates.inc()
            log.info("update %s already handled; skipped", event.update_id)
            return None
        settle = _Lease(self.state, key, self.lease).settle
        if delivery is None:  # no error boundary around us (tests): settle here
            try:
                result = await handler(event, data)
            except BaseException:
                await asyncio.shield(settle(False))
                raise
            await settle(True)
            return result
        delivery.claimed = True
        delivery.settle = settle
        delivery.throttle_count = admission.count
        return await handler(event, data)


class _Lease:
    """Renews an update's lease while it is handled; marks it done, or lets it run out."""

    def __init__(self, state: KeyValueState, key: str, lease: float) -> None:
        self.state = state
        self.key = key
        self.lease = lease
        self._settled = asyncio.Event()
        self._renewal = asyncio.create_task(self._renew(), name=f"lease {key}")

    async def _renew(self) -> None:
        while not await wait_set(self._settled, self.lease / 3):
            try:
                await self.state.put(self.key, BUSY, self.lease)
            except Exception:  # Redis away: try again (the handler sees it too)
                log.warning("could not renew the lease %s", self.key, exc_info=True)

    async def settle(self, done: bool) -> None:
        # The flag as well as the cancel: a cancel landing inside redis-py can be swallowed
        # there, and the renewal must still end (or the update would never be marked done).
        self._settled.set()
        self._renewal.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._renewal
        if not done:
            return
        try:
            await self.state.put(self.key, DONE, DEDUP_TTL)
        except Exception:  # the lease runs out; a redelivery is idempotent
            log.warning("could not mark %s done", self.key, exc_info=True)
