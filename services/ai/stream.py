"""Streaming presenter: model tokens → what the user sees in Telegram, within Telegram's limits.

- Private chats (Bot API 9.5+): ``sendMessageDraft`` updates (animated, with a stop button),
  then the final text with ``sendMessage``.
- Elsewhere (groups, topics) or with drafts off: one message sent at the first token and edited,
  at most once per ``edit_interval`` (about 1 edit/s per chat; slower in groups, 20/min).
- "typing…" until the first text is visible.
- The reply is rendered with ``services.ai.render`` and split at 4096 characters; parts that are
  complete are sent as soon as the next one starts.
- Scheduling under load (``StreamScheduler``): the first visible text and every final message
  go to the send budget at high priority, intermediate updates at ``DRAFT`` priority, and the
  interval between intermediate updates grows with the number of answers streaming at once, so
  their total rate stays within a budget and a new answer's first text never waits behind them.
  An intermediate update still waiting when the answer ends is dropped, never queued.
- 429s are the send budget's (``bot/sendbudget.py``): it waits ``retry_after`` and sends again.
- If Telegram rejects the entities, the same text goes plain, and stays plain for the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from services.ai.render import TELEGRAM_LIMIT, BlockCache, Part, render
from services.sendbudget import Priority, send_priority
from services.waiting import wait_set

log = logging.getLogger(__name__)

TYPING_EVERY = 4.0  # Telegram shows a chat action for ~5 s


class EntitiesRejected(Exception):
    """Telegram could not parse the HTML entities of a text."""


class Markup(Protocol):
    """An inline keyboard as the sender understands it (opaque to the presenter)."""


class Sender(Protocol):
    """What the presenter needs from Telegram. Implementations translate Telegram's entity
    errors into ``EntitiesRejected`` and ignore "message is not modified"."""

    async def send_draft(
        self, chat_id: int, draft_id: int, text: str, *, html: bool, thread_id: int | None
    ) -> None: ...

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        html: bool,
        thread_id: int | None,
        reply_to: int | None,
        markup: Markup | None,
    ) -> int: ...

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, *, html: bool, markup: Markup | None
    ) -> None: ...

    async def send_chat_action(self, chat_id: int, *, thread_id: int | None) -> None: ...


@dataclass(frozen=True, slots=True)
class Target:
    chat_id: int
    private: bool
    thread_id: int | None = None
    reply_to: int | None = None
    draft_id: int = 1


@dataclass(frozen=True, slots=True)
class Pace:
    edit_interval: float = 1.1
    group_edit_interval: float = 3.5
    draft_interval: float = 0.25
    use_drafts: bool = True


@dataclass
class Delivery:
    """What was delivered: message ids (in order), whether plain text was needed, call counts."""

    message_ids: list[int] = field(default_factory=list)
    plain: bool = False
    calls: int = 0
    dropped: int = 0
    first_visible_at: float | None = None
    parts: int = 0


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class StreamScheduler:
    """Shares the update rate among the answers streaming at once (one per process).

    Each mode has a total rate for intermediate updates: drafts (not counted by Telegram's
    message limits, but each one is a request the bot and Telegram must handle) and edits
    (counted: they share the global budget with first messages, finals and everything else).
    With ``n`` answers streaming in a mode, each waits ``max(base, n / rate)`` between updates.
    """

    def __init__(self, drafts_per_second: float, edits_per_second: float) -> None:
        self.rates = {True: drafts_per_second, False: edits_per_second}
        self.active = {True: 0, False: 0}

    def enter(self, drafts: bool) -> None:
        self.active[drafts] += 1

    def leave(self, drafts: bool) -> None:
        self.active[drafts] = max(0, self.active[drafts] - 1)

    def interval(self, base: float, drafts: bool) -> float:
        return max(base, self.active[drafts] / self.rates[drafts])


class StreamPresenter:
    def __init__(
        self,
        sender: Sender,
        target: Target,
        *,
        pace: Pace = Pace(),
        stop_markup: Markup | None = None,
        limit: int = TELEGRAM_LIMIT,
        clock: Clock = time.monotonic,
        scheduler: StreamScheduler | None = None,
    ) -> None:
        self.sender = sender
        self.scheduler = scheduler
        self._entered = False
        self._droppable = False  # the flusher is sending an update that may be abandoned
        self.target = target
        self.pace = pace
        self.stop_markup = stop_markup
        self.limit = limit
        self._clock = clock
        self.drafts = target.private and pace.use_drafts
        if self.drafts:
            self.interval = pace.draft_interval
        elif target.private:
            self.interval = pace.edit_interval
        else:
            self.interval = pace.group_edit_interval
        self.text = ""
        self.delivery = Delivery()
        self._blocks: BlockCache = {}
        # parts already delivered for good: (message id, html shown, plain shown)
        self._done: list[tuple[int, str]] = []
        self._live_id: int | None = None  # edit mode: the message being edited
        self._live_shown: str | None = None
        self._last_push = float("-inf")
        self._dirty = asyncio.Event()
        self._closing = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._typing: asyncio.Task[None] | None = None

    # -- public ---------------------------------------------------------------------------
    def start_typing(self) -> None:
        if self._typing is None:
            self._typing = asyncio.create_task(self._typing_loop())

    def feed(self, delta: str) -> None:
        if not delta:
            return
        self.text += delta
        if self._flusher is None and not self._closing.is_set():
            if self.scheduler is not None and not self._entered:
                self.scheduler.enter(self.drafts)
                self._entered = True
            self._flusher = asyncio.create_task(self._flush_loop())
        self._dirty.set()

    async def finish(self, *, markup: Markup | None = None, suffix: str = "") -> Delivery:
        """Deliver the final text (``suffix`` appended, e.g. a "stopped" note) for good."""
        await self._stop_background()
        text = self.text + suffix
        parts = render(text, self.limit, self._blocks) if text.strip() else []
        self._blocks.clear()
        self.delivery.parts = len(parts)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            await self._deliver_final(index, part, markup if last else None)
        return self.delivery

    async def abort(self) -> None:
        """Stop background work without sending anything more (the caller reports an error)."""
        await self._stop_background()

    @property
    def visible(self) -> bool:
        return self.delivery.first_visible_at is not None

    @property
    def live_message_id(self) -> int | None:
        """Edit mode: the message currently being edited (it shows partial text)."""
        return self._live_id

    # -- background -----------------------------------------------------------------------
    async def _stop_background(self) -> None:
        self._closing.set()
        if self._entered and self.scheduler is not None:
            self.scheduler.leave(self.drafts)
            self._entered = False
        for task in (self._typing, self._flusher):
            if task is None:
                continue
            if task is self._typing or self._droppable:
                # "typing…", a draft or an edit of the live message: the final text replaces
                # it, so it need not wait for its turn in the send budget
                task.cancel()
                if task is self._flusher:
                    self.delivery.dropped += 1
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._typing = self._flusher = None
        self._droppable = False

    def _interval(self) -> float:
        if self.scheduler is None:
            return self.interval
        return self.scheduler.interval(self.interval, self.drafts)

    async def _typing_loop(self) -> None:
        while not self.visible:
            try:
                self.delivery.calls += 1
                await self.sender.send_chat_action(
                    self.target.chat_id, thread_id=self.target.thread_id
                )
            except Exception:  # "typing…" is cosmetic
                log.debug("chat action failed", exc_info=True)
            await asyncio.sleep(TYPING_EVERY)

    async def _pause(self, seconds: float) -> bool:
        """Sleep unless closing; True when the presenter is closing."""
        if seconds <= 0:
            return self._closing.is_set()
        return await wait_set(self._closing, seconds)

    async def _flush_loop(self) -> None:
        while not self._closing.is_set():
            dirty = asyncio.ensure_future(self._dirty.wait())
            closing = asyncio.ensure_future(self._closing.wait())
            await asyncio.wait({dirty, closing}, return_when=asyncio.FIRST_COMPLETED)
            dirty.cancel()
            closing.cancel()
            if self._closing.is_set():
                return
            now = self._clock()
            if await self._pause(self._last_push + self._interval() - now):
                return
            self._dirty.clear()
            try:
                await self._push_partial()
            except Exception:  # an intermediate update may fail; the final one follows
                log.warning("streaming update failed", exc_info=True)
            self._last_push = self._clock()

    # -- pushing --------------------------------------------------------------------------
    async def _push_partial(self) -> None:
        parts = render(self.text, self.limit, self._blocks)
        if len(self._blocks) > 256:  # keep only what the next render can reuse
            self._blocks.clear()
        if not parts:
            return
        # complete parts (all but the last) go out for good as soon as the next one starts
        while len(self._done) < len(parts) - 1:
            index = len(self._done)
            await self._deliver_final(index, parts[index], None)
        tail = parts[-1]
        if not self.visible or (not self.drafts and self._live_id is None):
            # the first visible text (or the live message of the next part): ahead of drafts
            if self.drafts:
                await self._call_draft(tail)
            else:
                await self._call_live(tail)
            return
        self._droppable = True
        try:
            with send_priority(Priority.DRAFT):
                if self.drafts:
                    await self._call_draft(tail)
                else:
                    await self._call_live(tail)
        finally:
            self._droppable = False

    def _mark_visible(self) -> None:
        if self.delivery.first_visible_at is None:
            self.delivery.first_visible_at = self._clock()
            if self._typing is not None:
                self._typing.cancel()

    async def _with_fallback(
        self, part: Part, call: Callable[[str, bool], Awaitable[None]]
    ) -> None:
        if not self.delivery.plain:
            try:
                self.delivery.calls += 1
                await call(part.html, True)
                return
            except EntitiesRejected:
                log.info("Telegram rejected the entities; sending plain text")
                self.delivery.plain = True
        self.delivery.calls += 1
        await call(part.plain, False)

    async def _call_draft(self, part: Part) -> None:
        async def call(text: str, html: bool) -> None:
            await self.sender.send_draft(
                self.target.chat_id,
                self.target.draft_id,
                text,
                html=html,
                thread_id=self.target.thread_id,
            )

        await self._with_fallback(part, call)
        self._mark_visible()

    async def _call_live(self, part: Part) -> None:
        shown = part.plain if self.delivery.plain else part.html
        if self._live_id is not None and shown == self._live_shown:
            return
        live_id = self._live_id

        async def call(text: str, html: bool) -> None:
            if live_id is None:
                self._live_id = await self.sender.send_message(
                    self.target.chat_id,
                    text,
                    html=html,
                    thread_id=self.target.thread_id,
                    reply_to=self.target.reply_to,
                    markup=self.stop_markup,
                )
            else:
                await self.sender.edit_message(
                    self.target.chat_id, live_id, text, html=html, markup=self.stop_markup
                )
            self._live_shown = text

        await self._with_fallback(part, call)
        self._mark_visible()

    async def _deliver_final(self, index: int, part: Part, markup: Markup | None) -> None:
        """Part ``index`` in its final form: a new message, or an edit of the one showing it
        (at high priority; the send budget waits out a 429 and sends it again)."""
        with send_priority(Priority.HIGH):
            await self._final_once(index, part, markup)

    async def _final_once(self, index: int, part: Part, markup: Markup | None) -> None:
        if index < len(self._done):
            message_id, shown = self._done[index]
            final = part.plain if self.delivery.plain else part.html
            if shown == final and markup is None:
                return
            # the text settled differently (e.g. a later fence changed earlier markup), or the
            # last part needs its buttons: edit it in place

            async def edit(text: str, html: bool) -> None:
                await self.sender.edit_message(
                    self.target.chat_id, message_id, text, html=html, markup=markup
                )

            await self._with_fallback(part, edit)
            self._done[index] = (message_id, part.plain if self.delivery.plain else part.html)
            return
        live_id = self._live_id
        if live_id is not None:
            # edit mode: the live message becomes this part for good
            async def edit_live(text: str, html: bool) -> None:
                await self.sender.edit_message(
                    self.target.chat_id, live_id, text, html=html, markup=markup
                )

            if markup is None and self._live_shown == (
                part.plain if self.delivery.plain else part.html
            ):
                if self.stop_markup is not None:
                    # still carries the stop button: take it away
                    await self._with_fallback(part, edit_live)
            else:
                await self._with_fallback(part, edit_live)
            self._live_id = None
            self._live_shown = None
            message_id = live_id
        else:
            sent: list[int] = []

            async def send(text: str, html: bool) -> None:
                sent.append(
                    await self.sender.send_message(
                        self.target.chat_id,
                        text,
                        html=html,
                        thread_id=self.target.thread_id,
                        reply_to=self.target.reply_to if index == 0 else None,
                        markup=markup,
                    )
                )

            await self._with_fallback(part, send)
            message_id = sent[-1]
        self._done.append((message_id, part.plain if self.delivery.plain else part.html))
        self.delivery.message_ids.append(message_id)
        self._mark_visible()
