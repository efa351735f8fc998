"""AI chat service: one place that answers a message — context, credits, streaming, stop,
failure handling, storing the turns and logging the exchange. What the reply is made with (the
model, the persona, the user's own keys) is `services/ai/preferences.py`, as ``.preferences``.

Handlers call ``AIService.reply`` with a ``Sender`` (Telegram) and the few UI pieces that need
the user's language (buttons, suffixes); everything else lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models.ai import AIPreference
from services.ai.catalogue import Catalogue, ModelInfo
from services.ai.config import AISettings
from services.ai.context import (
    ContextStore,
    Plan,
    Scope,
    plan,
    summary_request,
    with_summary,
)
from services.ai.keys import KeyStore
from services.ai.metering import (
    Meter,
    NotEnoughCredits,
    Payer,
    Reservation,
    prompt_charge_key,
)
from services.ai.preferences import Preferences
from services.ai.providers.base import (
    ChatMessage,
    Chunk,
    ErrorKind,
    FinishReason,
    ProviderError,
    Usage,
)
from services.ai.providers.registry import ProviderRegistry, ProviderStatus
from services.ai.stream import (
    Delivery,
    Markup,
    Pace,
    Sender,
    StreamPresenter,
    StreamScheduler,
    Target,
)
from services.ai.tokens import TokenCounter, warm_up
from services.crypto.fields import FieldCipher

log = logging.getLogger(__name__)

SUMMARY_MAX_TOKENS = 400


class ExchangeLog(Protocol):
    """The log server's ``record`` (``services.logserver``): optional, injected."""

    async def record(self, user_id: int, kind: Any, body: Mapping[str, Any]) -> object: ...


class Outcome(StrEnum):
    OK = "ok"
    STOPPED = "stopped"
    NO_CREDITS = "no-credits"
    FAILED = "failed"
    NO_MODEL = "no-model"
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class ChatRequest:
    user_id: int
    chat_id: int
    text: str
    private: bool
    thread_id: int | None = None
    reply_to: int | None = None
    message_id: int | None = None
    """The prompt's own message: with the chat id it names the one charge for this prompt."""


@dataclass(frozen=True, slots=True)
class ReplyUI:
    """What the reply needs from the user's language and keyboards."""

    reply_markup: Callable[[str], Markup | None]
    """Buttons under the final reply, given its exchange id (the "exclude" button)."""
    stop_markup: Callable[[int], Markup | None]
    """Stop button while streaming by edits, given the reply's draft id."""
    stopped_suffix: str
    failed_suffix: str


@dataclass
class ReplyResult:
    outcome: Outcome
    model: ModelInfo | None = None
    payer: Payer | None = None
    cost: int = 0
    usage: Usage | None = None
    balance: int = 0
    needed: int = 0
    error: ErrorKind | None = None
    alternatives: list[ModelInfo] = field(default_factory=list)
    delivery: Delivery | None = None
    exchange: str | None = None
    first_token_at: float | None = None


@dataclass
class _Acc:
    text: list[str] = field(default_factory=list)
    usage: Usage | None = None
    finish: FinishReason | None = None
    first_token_at: float | None = None


class AIService:
    def __init__(
        self,
        settings: AISettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        cipher: FieldCipher,
        *,
        registry: ProviderRegistry | None = None,
        catalogue: Catalogue | None = None,
        exchange_log: ExchangeLog | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.cipher = cipher
        self.catalogue = catalogue or Catalogue.load(settings.catalogue_path)
        self.registry = registry or ProviderRegistry.from_settings(settings)
        self.contexts = ContextStore(cipher, hours=settings.context_hours)
        self.keys = KeyStore(cipher)
        self.preferences = Preferences(
            settings.default_model, self.catalogue, self.registry, self.keys, cipher
        )
        self.meter = Meter(sessionmaker, settings)
        self.exchange_log = exchange_log
        self.pace = Pace(
            edit_interval=settings.edit_interval,
            group_edit_interval=settings.group_edit_interval,
            draft_interval=settings.draft_interval,
            use_drafts=settings.use_drafts,
        )
        self._inflight: dict[tuple[int, int], tuple[int, asyncio.Event]] = {}
        # One per process: shares the update rate among the answers streaming at once.
        self.streams = StreamScheduler(
            settings.stream_drafts_per_second, settings.stream_edits_per_second
        )

    # -- conversation ---------------------------------------------------------------------
    def scope(self, chat_id: int, thread_id: int | None, *, private: bool) -> Scope:
        return self.contexts.scope(chat_id, thread_id, private=private)

    # -- stop -----------------------------------------------------------------------------
    def stop(self, chat_id: int, draft_id: int, user_id: int | None = None) -> bool:
        """Stop a reply in flight; ``user_id`` (a stop button) must be the asker's."""
        entry = self._inflight.get((chat_id, draft_id))
        if entry is None:
            return False
        owner, event = entry
        if user_id is not None and user_id != owner:
            return False
        event.set()
        return True

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    async def start(self) -> None:
        """At start-up: load the token encodings off the event loop (seconds, once)."""
        models = [m for m in self.catalogue if self.registry.is_configured(m.provider)]
        # Only what the configured providers need: each BPE table is tens of MB resident. A model
        # reached with a user's own key loads its table on first use (`reply`, in a thread).
        await asyncio.to_thread(warm_up, models)

    def status(self) -> list[ProviderStatus]:
        return self.registry.status()

    async def aclose(self) -> None:
        await self.registry.aclose()

    # -- the reply ------------------------------------------------------------------------
    async def reply(self, req: ChatRequest, sender: Sender, ui: ReplyUI) -> ReplyResult:
        async with self.sessionmaker() as session:
            model, own = await self.preferences.current_model(session, req.user_id)
            if model is None:
                return ReplyResult(Outcome.NO_MODEL)
            api_key = (
                await self.keys.get(session, req.user_id, model.provider)
                if model.provider in own
                else None
            )
            pref = await session.get(AIPreference, req.user_id)
            system = self.preferences.system_prompt(pref, req.user_id)
            scope = self.scope(req.chat_id, req.thread_id, private=req.private)
            turns = await self.contexts.turns(session, req.user_id, scope)
            summary = await self.contexts.summary(session, req.user_id, scope)
        if api_key is None and not self.registry.is_configured(model.provider):
            return ReplyResult(Outcome.NO_MODEL, model=model)

        await asyncio.to_thread(warm_up, [model])  # loaded once; later calls return at once
        counter = TokenCounter(model)
        reply_room = min(self.settings.max_reply_tokens, model.context // 4)
        the_plan = plan(
            system=system,
            turns=turns,
            summary=summary,
            prompt=req.text,
            counter=counter,
            window=model.context,
            reply_room=reply_room,
            trigger_ratio=self.settings.summary_trigger_ratio,
        )
        to_reserve = the_plan.prompt_tokens
        if the_plan.to_summarise:
            to_reserve += sum(t.tokens for t in the_plan.to_summarise) + SUMMARY_MAX_TOKENS
        try:
            reservation = await self.meter.reserve(
                req.user_id,
                model,
                to_reserve,
                own_key=api_key is not None,
                exact_count=counter.exact,
                charge_key=(
                    prompt_charge_key(self.cipher, req.chat_id, req.message_id)
                    if req.message_id is not None
                    else None
                ),
            )
        except NotEnoughCredits as exc:
            return ReplyResult(
                Outcome.NO_CREDITS, model=model, balance=exc.balance, needed=exc.needed
            )

        draft_id = secrets.randbelow(2**31 - 2) + 1
        exchange = uuid.uuid4().hex
        stop = asyncio.Event()
        self._inflight[(req.chat_id, draft_id)] = (req.user_id, stop)
        presenter = StreamPresenter(
            sender,
            Target(req.chat_id, req.private, req.thread_id, req.reply_to, draft_id),
            pace=self.pace,
            stop_markup=ui.stop_markup(draft_id),
            scheduler=self.streams,
        )
        presenter.start_typing()
        acc = _Acc()
        extra = Usage(0, 0)
        settled = False
        try:
            try:
                if the_plan.to_summarise:
                    the_plan, extra = await self._summarise(
                        req, scope, the_plan, summary, counter, model, api_key
                    )
                max_out = max(1, min(reservation.max_output_tokens, reply_room))
                stream = self.registry.stream(
                    model.provider, the_plan.messages, model.id, api_key, max_tokens=max_out
                )
                stopped = await self._run(stream, presenter, acc, stop)
            except ProviderError as exc:
                if presenter.visible:
                    await presenter.finish(suffix=ui.failed_suffix)
                else:
                    await presenter.abort()
                await self.meter.release(reservation)
                settled = True
                log.info("reply failed: %s %s (%s)", exc.provider, exc.kind, exc.message)
                return ReplyResult(
                    Outcome.FAILED,
                    model=model,
                    error=exc.kind,
                    alternatives=self.preferences.alternatives(model, own),
                )
            text = "".join(acc.text)
            if not text.strip() and not stopped:
                await presenter.abort()
                await self.meter.release(reservation)
                settled = True
                return ReplyResult(Outcome.EMPTY, model=model)
            usage = acc.usage
            if usage is None:
                # stopped (the provider never sent its count) or a server without usage
                # reporting: count what was sent and what came back
                usage = Usage(the_plan.prompt_tokens, counter.text(text))
            usage = Usage(
                usage.input_tokens + extra.input_tokens, usage.output_tokens + extra.output_tokens
            )
            # Settle and remember before the final message goes out: once the user sees the
            # answer, the next question must find it in the context.
            cost = await self.meter.settle(reservation, usage)
            settled = True
            if text.strip():
                await self._remember(req, scope, exchange, counter, text)
            delivery = await presenter.finish(
                markup=ui.reply_markup(exchange) if text.strip() else None,
                suffix=ui.stopped_suffix if stopped else "",
            )
            await self._log(req, model, reservation, usage, cost, text)
            return ReplyResult(
                Outcome.STOPPED if stopped else Outcome.OK,
                model=model,
                payer=reservation.payer,
                cost=cost,
                usage=usage,
                delivery=delivery,
                exchange=exchange,
                first_token_at=acc.first_token_at,
            )
        finally:
            self._inflight.pop((req.chat_id, draft_id), None)
            if not settled:
                # cancelled or failed on the way (Telegram down, shutdown): nothing charged
                await presenter.abort()
                with contextlib.suppress(Exception):
                    await self.meter.release(reservation)

    async def _run(
        self,
        stream: Any,
        presenter: StreamPresenter,
        acc: _Acc,
        stop: asyncio.Event,
    ) -> bool:
        """Feed the presenter until the stream ends (False) or the user stops it (True)."""

        async def consume() -> None:
            async for chunk in stream:
                self._take(chunk, presenter, acc)

        consumer = asyncio.create_task(consume())
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            consumer.cancel()
            stopper.cancel()
            raise
        if consumer in done:
            stopper.cancel()
            consumer.result()  # raises the ProviderError, if any
            return False
        # the user pressed stop: cancelling the consumer closes the provider's HTTP stream
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        if consumer.done() and not consumer.cancelled() and consumer.exception() is not None:
            log.debug("provider error after stop ignored", exc_info=consumer.exception())
        return True

    @staticmethod
    def _take(chunk: Chunk, presenter: StreamPresenter, acc: _Acc) -> None:
        if chunk.text:
            if acc.first_token_at is None:
                acc.first_token_at = time.monotonic()
            acc.text.append(chunk.text)
            presenter.feed(chunk.text)
        if chunk.usage is not None:
            acc.usage = chunk.usage
        if chunk.finish is not None:
            acc.finish = chunk.finish

    async def _summarise(
        self,
        req: ChatRequest,
        scope: Scope,
        the_plan: Plan,
        previous: Any,
        counter: TokenCounter,
        model: ModelInfo,
        api_key: str | None,
    ) -> tuple[Plan, Usage]:
        """Fold older turns into a summary once (stored, reused); on failure keep the trimmed
        plan — the reply matters more than the summary."""
        messages: Sequence[ChatMessage] = summary_request(the_plan.to_summarise, previous)
        parts: list[str] = []
        usage = Usage(0, 0)
        try:
            async for chunk in self.registry.stream(
                model.provider, messages, model.id, api_key, max_tokens=SUMMARY_MAX_TOKENS
            ):
                parts.append(chunk.text)
                if chunk.usage is not None:
                    usage = chunk.usage
        except ProviderError as exc:
            if exc.kind in (ErrorKind.AUTH, ErrorKind.QUOTA):
                raise
            log.info("summary failed (%s); older turns left out instead", exc.kind)
            return Plan(the_plan.messages, the_plan.prompt_tokens, [], None, 0), usage
        text = "".join(parts).strip()
        if not text:
            return Plan(the_plan.messages, the_plan.prompt_tokens, [], None, 0), usage
        async with self.sessionmaker() as session:
            summary = await self.contexts.save_summary(
                session,
                req.user_id,
                scope,
                text,
                counter.message(text),
                the_plan.to_summarise,
                previous,
            )
            await session.commit()
        return with_summary(the_plan, summary, counter), usage

    async def _remember(
        self, req: ChatRequest, scope: Scope, exchange: str, counter: TokenCounter, text: str
    ) -> None:
        async with self.sessionmaker() as session:
            await self.contexts.add_exchange(
                session,
                req.user_id,
                scope,
                exchange,
                (req.text, counter.message(req.text)),
                (text, counter.message(text)),
            )
            await session.commit()

    async def _log(
        self,
        req: ChatRequest,
        model: ModelInfo,
        reservation: Reservation,
        usage: Usage,
        cost: int,
        text: str,
    ) -> None:
        if self.exchange_log is None:
            return
        body = {
            "prompt": req.text,
            "reply": text,
            "model": model.id,
            "provider": model.provider.value,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cost": cost,
            "paid_with": reservation.payer.value,
        }
        try:
            await self.exchange_log.record(req.user_id, "chat", body)
        except Exception:  # logging must not cost the user their reply
            log.exception("exchange log failed for a reply")
