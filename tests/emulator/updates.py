"""Pending updates: long polling (getUpdates) and webhook delivery with retries."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .clock import Clock
from .errors import EmulatorUsageError, TelegramError, conflict
from .schema import UploadedFile

log = logging.getLogger(__name__)

# Kinds Telegram leaves out unless allowed_updates names them.
OPT_IN_KINDS = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def update_kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def _chat_key(update: dict[str, Any]) -> object:
    """The chat an update belongs to (its sender for queries), for per-chat ordering."""
    body = update[update_kind(update)]
    if isinstance(body, dict):
        for holder in (body, body.get("message")):
            if isinstance(holder, dict) and isinstance(holder.get("chat"), dict):
                return ("chat", holder["chat"].get("id"))
        sender = body.get("from") or body.get("user")
        if isinstance(sender, dict):
            return ("chat", sender.get("id"))
    return ("update", update["update_id"])


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class WebhookAttempt:
    """One POST to the webhook, for tests (``emu.updates.webhook_attempts``)."""

    update_id: int
    status: int | None  # None: connection failed or timed out
    secret_header: str | None
    error: str | None = None


@dataclass
class _Pending:
    update: dict[str, Any]
    forced: bool = False  # a redelivery: ignores the offset once


@dataclass
class UpdateQueue:
    clock: Clock
    next_update_id: int = 100_000_001
    allowed: frozenset[str] | None = None
    webhook: WebhookConfig | None = None
    webhook_retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
    webhook_timeout: float = 10.0
    # False: one POST at a time, in order (the default, simplest to reason about in tests).
    # True: as Telegram does, up to the webhook's max_connections at once, one at a time per chat.
    webhook_parallel: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    webhook_attempts: list[WebhookAttempt] = field(default_factory=list)
    on_webhook_reply: (
        Callable[[str, dict[str, Any], dict[str, UploadedFile]], Awaitable[None]] | None
    ) = None
    on_change: Callable[[], None] | None = None
    validate: Callable[[dict[str, Any]], list[str]] | None = None  # schema check of each update
    waiting_pollers: int = 0  # getUpdates calls now waiting for an update
    closed: bool = False
    _pending: list[_Pending] = field(default_factory=list)
    _event: asyncio.Event = field(default_factory=asyncio.Event)
    _poll_generation: int = 0
    _worker: asyncio.Task[None] | None = None
    _http: aiohttp.ClientSession | None = None

    # -- producing -------------------------------------------------------------------------------

    def is_allowed(self, kind: str) -> bool:
        if self.allowed is None:
            return kind not in OPT_IN_KINDS
        return kind in self.allowed

    def push(self, body: dict[str, Any], *, times: int = 1) -> dict[str, Any] | None:
        """Queue an update (``body`` without ``update_id``); ``times=2`` delivers it twice with
        the same id, as Telegram does when it redelivers. Returns the update, or None when its
        kind is not in allowed_updates (Telegram does not create it then)."""
        kind = update_kind(body)
        self._check(body)
        if not self.is_allowed(kind):
            return None
        update = {"update_id": self.next_update_id, **body}
        self.next_update_id += 1
        self.history.append(update)
        for n in range(times):
            self._pending.append(_Pending(copy.deepcopy(update), forced=n > 0))
        self._event.set()
        return update

    def _check(self, body: dict[str, Any]) -> None:
        if self.validate is None:
            return
        errors = self.validate({"update_id": 1, **body})
        if errors:
            raise EmulatorUsageError(f"not a valid Update: {errors[:5]}")

    def push_raw(self, update: dict[str, Any]) -> None:
        """Queue an update exactly as given (an ``update_id`` is added only when missing).

        Unlike ``push`` it is not checked against the schema, so tests can send malformed ones.
        """
        if "update_id" not in update:
            update = {"update_id": self.next_update_id, **update}
            self.next_update_id += 1
        else:
            self.next_update_id = max(self.next_update_id, int(update["update_id"]) + 1)
        self.history.append(update)
        self._pending.append(_Pending(update, forced=True))
        self._event.set()

    def redeliver(self, update_id: int) -> None:
        """Deliver an already delivered update again (same ``update_id``)."""
        for update in self.history:
            if update["update_id"] == update_id:
                self._pending.append(_Pending(copy.deepcopy(update), forced=True))
                self._event.set()
                return
        raise KeyError(f"no update {update_id}")

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def drop_pending(self) -> None:
        self._pending.clear()

    # -- getUpdates ------------------------------------------------------------------------------

    async def get_updates(
        self, offset: int | None, limit: int, timeout: float, allowed: list[str] | None
    ) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise conflict(
                "can't use getUpdates method while webhook is active; use deleteWebhook to "
                "delete the webhook first"
            )
        if allowed is not None:
            self.set_allowed(allowed)
        self._poll_generation += 1
        generation = self._poll_generation
        self._event.set()  # an earlier, still waiting getUpdates ends with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        while True:
            self._confirm(offset)
            if self._pending:
                batch = self._pending[: max(1, min(limit, 100))]
                for item in batch:
                    item.forced = False
                return [copy.deepcopy(item.update) for item in batch]
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed:
                return []
            self._event.clear()
            self.waiting_pollers += 1
            self._changed()
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._event.wait(), remaining)
            finally:
                self.waiting_pollers -= 1
            if generation != self._poll_generation:
                raise conflict(
                    "terminated by other getUpdates request; make sure that only one bot "
                    "instance is running"
                )

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def set_allowed(self, allowed: list[str]) -> None:
        self.allowed = frozenset(allowed) if allowed else None
        self._pending = [p for p in self._pending if self.is_allowed(update_kind(p.update))]

    def _confirm(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        if offset < 0:
            keep = -offset
            self._pending = self._pending[-keep:] if keep else []
            return
        self._pending = [p for p in self._pending if p.forced or p.update["update_id"] >= offset]

    def wake_pollers(self) -> None:
        self._event.set()

    # -- webhook ---------------------------------------------------------------------------------

    def set_webhook(self, config: WebhookConfig, *, drop_pending: bool) -> None:
        if drop_pending:
            self.drop_pending()
        if config.allowed_updates is not None:
            self.set_allowed(config.allowed_updates)
        self.webhook = config
        self._poll_generation += 1  # a waiting getUpdates ends with 409
        self._event.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._deliver_loop())

    async def delete_webhook(self, *, drop_pending: bool) -> None:
        if drop_pending:
            self.drop_pending()
        self.webhook = None
        await self._stop_worker()
        await self._close_http()

    async def close(self) -> None:
        """Shut down: waiting getUpdates calls return, webhook delivery stops."""
        self.closed = True
        self._event.set()
        await self._stop_worker()
        await self._close_http()

    async def _close_http(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def _deliver_loop(self) -> None:
        if self.webhook_parallel:
            await self._deliver_parallel()
            return
        attempt = 0
        while self.webhook is not None:
            if not self._pending:
                self._event.clear()
                await self._event.wait()
                continue
            item = self._pending[0]
            ok = await self._post(self.webhook, item.update)
            if ok:
                if self._pending and self._pending[0] is item:
                    self._pending.pop(0)
                attempt = 0
                continue
            delay = self.webhook_retry_delays[min(attempt, len(self.webhook_retry_delays) - 1)]
            attempt += 1
            await asyncio.sleep(delay)

    async def _deliver_parallel(self) -> None:
        in_flight: dict[object, asyncio.Task[None]] = {}

        async def deliver(item: _Pending, key: object) -> None:
            attempt = 0
            try:
                while self.webhook is not None:
                    if await self._post(self.webhook, item.update):
                        return
                    delay = self.webhook_retry_delays[
                        min(attempt, len(self.webhook_retry_delays) - 1)
                    ]
                    attempt += 1
                    await asyncio.sleep(delay)
            finally:
                in_flight.pop(key, None)
                self._event.set()

        try:
            while self.webhook is not None:
                self._event.clear()
                for item in list(self._pending):
                    if len(in_flight) >= self.webhook.max_connections:
                        break
                    key = _chat_key(item.update)
                    if key in in_flight:
                        continue  # one at a time per chat, in order
                    self._pending.remove(item)
                    in_flight[key] = asyncio.create_task(deliver(item, key))
                await self._event.wait()
        finally:
            for task in list(in_flight.values()):
                task.cancel()
            await asyncio.gather(*in_flight.values(), return_exceptions=True)

    async def _post(self, config: WebhookConfig, update: dict[str, Any]) -> bool:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json"}
        if config.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = config.secret_token
        record = WebhookAttempt(update["update_id"], None, config.secret_token)
        self.webhook_attempts.append(record)
        try:
            async with self._http.post(
                config.url,
                data=json.dumps(update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as resp:
                record.status = resp.status
                if 200 <= resp.status < 300:
                    await self._handle_reply(resp)
                    self._changed()
                    return True
                record.error = f"Wrong response from the webhook: {resp.status} {resp.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            record.error = f"Connection failed: {type(exc).__name__}"
        config.last_error_date = self.clock.timestamp()
        config.last_error_message = record.error
        self._changed()
        return False

    async def _handle_reply(self, resp: aiohttp.ClientResponse) -> None:
        """A webhook may answer with a method call; Telegram executes it."""
        if self.on_webhook_reply is None:
            return
        body: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        if resp.content_type == "application/json":
            with contextlib.suppress(ValueError):
                loaded = await resp.json()
                if isinstance(loaded, dict):
                    body = loaded
        elif resp.content_type.startswith("multipart/"):
            reader = aiohttp.MultipartReader.from_response(resp)
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, aiohttp.BodyPartReader) or not part.name:
                    continue
                if part.filename:
                    content_type = part.headers.get("Content-Type", "application/octet-stream")
                    files[part.name] = UploadedFile(part.filename, content_type, await part.read())
                else:
                    body[part.name] = await part.text()
        method = body.pop("method", None)
        if isinstance(method, str):
            try:
                await self.on_webhook_reply(method, body, files)
            except TelegramError as exc:
                log.info("webhook reply %s failed: %s", method, exc.description)
