"""Telegram's flood limits and fault injection (5xx answers, timeouts), both off by default."""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from .clock import Clock

# Methods that count as "sending a message" for the flood limits (edits count too).
COUNTED_METHODS = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "sendAudio",
        "sendVideo",
        "sendAnimation",
        "sendVoice",
        "sendSticker",
        "sendMediaGroup",
        "sendInvoice",
        "sendPoll",
        "sendLocation",
        "sendContact",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
    }
)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class FloodLimits:
    """About 1 message/s per private chat with short bursts, 20/min per group, 30/s overall.

    Turn on with ``emu.limits.enabled = True``; the numbers are attributes and may be changed.
    Windows are measured on the emulator clock, so ``emu.clock.freeze()`` makes them exact and
    ``emu.clock.advance(n)`` lets time pass.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.enabled = False
        self.private_per_second = 1.0
        self.private_burst = 3
        self.group_per_minute = 20
        self.global_per_second = 30
        self._private: dict[int, _Bucket] = {}
        self._group: dict[int, deque[float]] = {}
        self._global: deque[float] = deque()

    def reset(self) -> None:
        self._private.clear()
        self._group.clear()
        self._global.clear()

    def check(self, chat_id: int, *, private: bool) -> int | None:
        """``retry_after`` seconds when one more message to ``chat_id`` is over a limit."""
        if not self.enabled:
            return None
        now = self.clock.now()
        waits: list[float] = []
        _expire(self._global, now - 1.0)
        if len(self._global) >= self.global_per_second:
            waits.append(self._global[0] + 1.0 - now)
        if private:
            tokens = self._tokens(chat_id, now)
            if tokens < 1.0:
                waits.append((1.0 - tokens) / self.private_per_second)
        else:
            window = self._group.setdefault(chat_id, deque())
            _expire(window, now - 60.0)
            if len(window) >= self.group_per_minute:
                waits.append(window[0] + 60.0 - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def record(self, chat_id: int, *, private: bool) -> None:
        """Count one message that went through."""
        if not self.enabled:
            return
        now = self.clock.now()
        self._global.append(now)
        if private:
            self._tokens(chat_id, now)
            self._private[chat_id].tokens -= 1.0
        else:
            self._group.setdefault(chat_id, deque()).append(now)

    def _tokens(self, chat_id: int, now: float) -> float:
        bucket = self._private.get(chat_id)
        if bucket is None:
            bucket = _Bucket(float(self.private_burst), now)
            self._private[chat_id] = bucket
        bucket.tokens = min(
            float(self.private_burst),
            bucket.tokens + (now - bucket.updated) * self.private_per_second,
        )
        bucket.updated = now
        return bucket.tokens


def _expire(window: deque[float], before: float) -> None:
    while window and window[0] <= before:
        window.popleft()


FaultKind = Literal["error", "timeout", "timeout_after_effect"]


@dataclass(frozen=True)
class Fault:
    """One injected failure.

    ``error``: answer ``code`` without doing anything: 500 Internal Server Error, 502 Bad Gateway,
    or 429 Too Many Requests with ``retry_after``. ``timeout``: hold the request ``delay``
    seconds without doing anything (beyond the client's timeout, so the client gives up).
    ``timeout_after_effect``: do the work, then hold the answer (the message was sent but the bot
    never heard so: the classic duplicate-send trap).
    """

    kind: FaultKind = "error"
    code: int = 500
    delay: float = 65.0
    retry_after: int = 1


@dataclass
class _Rule:
    error_rate: float = 0.0
    error_codes: tuple[int, ...] = (500, 502)
    timeout_rate: float = 0.0
    timeout_delay: float = 65.0
    schedule: deque[Fault | None] = field(default_factory=deque)


RuleKey = tuple[str, int | None]


class FaultInjector:
    """Per-method failures, either by probability (seeded RNG) or by an explicit schedule.

    ``emu.faults.set("sendMessage", error_rate=0.2, error_codes=(429, 500, 502))``;
    ``emu.faults.schedule("sendMessage", [500, None, "timeout"])`` fails the next call with 500,
    lets the second through, times the third out. ``"*"`` applies to every method;
    ``chat_id=`` narrows a rule to calls into one chat.
    """

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self._rules: dict[RuleKey, _Rule] = {}

    def seed(self, seed: int) -> None:
        self.rng.seed(seed)

    def clear(self) -> None:
        self._rules.clear()

    def set(
        self,
        method: str,
        *,
        error_rate: float = 0.0,
        error_codes: Iterable[int] = (500, 502),
        timeout_rate: float = 0.0,
        timeout_delay: float = 65.0,
        chat_id: int | None = None,
    ) -> None:
        rule = self._rules.setdefault((method, chat_id), _Rule())
        rule.error_rate = error_rate
        rule.error_codes = tuple(error_codes)
        rule.timeout_rate = timeout_rate
        rule.timeout_delay = timeout_delay

    def schedule(
        self,
        method: str,
        outcomes: Iterable[Fault | int | str | None],
        *,
        chat_id: int | None = None,
    ) -> None:
        """Queue outcomes for the next calls: a Fault, an HTTP code (429, 500, 502, …),
        "timeout", "timeout_after_effect", or None (no fault)."""
        rule = self._rules.setdefault((method, chat_id), _Rule())
        for outcome in outcomes:
            rule.schedule.append(_to_fault(outcome, rule.timeout_delay))

    def decide(self, method: str, chat_id: int | None = None) -> Fault | None:
        keys: list[RuleKey] = []
        for name in (method, "*"):
            if chat_id is not None:
                keys.append((name, chat_id))
            keys.append((name, None))
        for key in keys:
            rule = self._rules.get(key)
            if rule is None:
                continue
            if rule.schedule:
                return rule.schedule.popleft()
            roll = self.rng.random()
            if roll < rule.error_rate:
                return Fault("error", self.rng.choice(rule.error_codes))
            if roll < rule.error_rate + rule.timeout_rate:
                return Fault("timeout", delay=rule.timeout_delay)
        return None


def _to_fault(outcome: Fault | int | str | None, delay: float) -> Fault | None:
    if outcome is None or isinstance(outcome, Fault):
        return outcome
    if isinstance(outcome, int):
        return Fault("error", outcome)
    if outcome == "timeout":
        return Fault("timeout", delay=delay)
    if outcome == "timeout_after_effect":
        return Fault("timeout_after_effect", delay=delay)
    raise ValueError(f"unknown fault {outcome!r}")
