"""Configured providers, each wrapped with timeouts, retries with back-off and a circuit breaker.

``ProviderRegistry.status()`` is what the admin's system panel shows.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import ModuleType

from pydantic import SecretStr
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from services.ai.catalogue import ProviderName
from services.ai.config import AISettings
from services.ai.providers.base import ChatMessage, Chunk, ErrorKind, Provider, ProviderError

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``threshold`` consecutive provider-side failures; after ``cooldown`` seconds
    one trial request goes through (half-open): success closes it, failure opens it again."""

    def __init__(self, threshold: int, cooldown: float, clock: Clock = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_running = False
        self.last_error: ErrorKind | None = None

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self.opened_at >= self.cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def release(self) -> None:
        """The request ended without a verdict on the provider (cancelled, user's key refused)."""
        self._trial_running = False

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial_running = False

    def failure(self, kind: ErrorKind) -> None:
        self.last_error = kind
        self._trial_running = False
        if self.opened_at is not None:
            self.opened_at = self._clock()  # a failed trial: wait a full cooldown again
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = self._clock()
            log.warning("circuit breaker opened after %d failures (%s)", self.failures, kind)

    def retry_in(self) -> float | None:
        if self.opened_at is None:
            return None
        return max(0.0, self.opened_at + self.cooldown - self._clock())


class OutcomeWindow:
    """Requests and provider-side failures over the last ``seconds`` (the dashboard's error
    rate); counts only, at most ``limit`` outcomes kept."""

    def __init__(self, seconds: float = 900.0, clock: Clock = time.monotonic, limit: int = 10_000):
        self.seconds = seconds
        self._clock = clock
        self._outcomes: deque[tuple[float, bool]] = deque(maxlen=limit)

    def add(self, failed: bool) -> None:
        self._outcomes.append((self._clock(), failed))

    def counts(self) -> tuple[int, int]:
        """(requests, failures) within the window."""
        horizon = self._clock() - self.seconds
        while self._outcomes and self._outcomes[0][0] < horizon:
            self._outcomes.popleft()
        failures = sum(1 for _, failed in self._outcomes if failed)
        return len(self._outcomes), failures


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    provider: ProviderName
    configured: bool
    """The server holds a key (or a base URL, for the OpenAI-compatible provider)."""
    state: BreakerState
    consecutive_failures: int
    last_error: ErrorKind | None
    retry_in: float | None
    requests: int = 0
    """Requests with a verdict on the provider in the last `OutcomeWindow.seconds`."""
    failures: int = 0


class DeferredProvider:
    """A provider whose module (and SDK) is imported on first use, in a worker thread.

    The SDKs are large and slow to import (resident: anthropic about 44 MB, google-genai 18 MB,
    openai 14 MB; seconds of CPU each on a busy machine), and a deployment uses one or two of
    them. The configured ones are built at once (`eager`, as the application is assembled); the
    others only if a user brings a key for them.
    """

    def __init__(
        self,
        name: ProviderName,
        module: str,
        build: Callable[[ModuleType], Provider],
        *,
        eager: bool = False,
    ) -> None:
        self._name = name
        self._module = module
        self._build = build
        self._real: Provider | None = None
        self._lock = asyncio.Lock()
        if eager:
            self._real = build(importlib.import_module(module))

    @property
    def name(self) -> ProviderName:
        return self._name

    async def load(self) -> Provider:
        if self._real is None:
            async with self._lock:
                if self._real is None:
                    module = await asyncio.to_thread(importlib.import_module, self._module)
                    self._real = self._build(module)
        return self._real

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        model: str,
        api_key: str | None = None,
        *,
        max_tokens: int | None = None,
    ) -> AsyncIterator[Chunk]:
        provider = await self.load()
        async for chunk in provider.stream(messages, model, api_key, max_tokens=max_tokens):
            yield chunk

    async def check_key(self, api_key: str) -> None:
        await (await self.load()).check_key(api_key)

    async def aclose(self) -> None:
        if self._real is not None:
            await self._real.aclose()


class ResilientProvider:
    """Wraps one provider: total/first-token/idle timeouts, retries before the first token on
    rate limits, 5xx and connection errors (exponential back-off with jitter, honouring the
    provider's ``retry-after``), and a circuit breaker."""

    def __init__(
        self,
        inner: Provider,
        settings: AISettings,
        *,
        breaker: CircuitBreaker,
        sleep: Sleep = asyncio.sleep,
        outcomes: OutcomeWindow | None = None,
    ) -> None:
        self.inner = inner
        self.settings = settings
        self.breaker = breaker
        self.outcomes = outcomes or OutcomeWindow()
        self._sleep = sleep

    @property
    def name(self) -> ProviderName:
        return self.inner.name

    def _wait(self, state: RetryCallState) -> float:
        s = self.settings
        delay = min(s.retry_max_delay, s.retry_base_delay * 2 ** (state.attempt_number - 1))
        delay *= 0.5 + random.random() / 2  # jitter
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ProviderError) and exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, s.retry_max_delay))
        return float(delay)

    async def _open(
        self,
        messages: Sequence[ChatMessage],
        model: str,
        api_key: str | None,
        max_tokens: int | None,
    ) -> tuple[AsyncIterator[Chunk], Chunk]:
        stream = aiter(self.inner.stream(messages, model, api_key, max_tokens=max_tokens))
        try:
            async with asyncio.timeout(self.settings.first_token_timeout):
                first = await anext(stream)
        except TimeoutError as exc:
            await _close(stream)
            raise ProviderError(ErrorKind.TIMEOUT, self.name, "no first token in time") from exc
        except BaseException:
            await _close(stream)
            raise
        return stream, first

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        model: str,
        api_key: str | None = None,
        *,
        max_tokens: int | None = None,
    ) -> AsyncIterator[Chunk]:
        if not self.breaker.allow():
            raise ProviderError(ErrorKind.UNAVAILABLE, self.name, "circuit open")
        verdict = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.request_timeout
        try:
            retrying = AsyncRetrying(
                retry=retry_if_exception(
                    lambda e: isinstance(e, ProviderError) and e.kind.retryable
                ),
                stop=stop_after_attempt(self.settings.retry_attempts),
                wait=self._wait,
                sleep=self._sleep,
                reraise=True,
            )
            try:
                # The whole request, retries included, within `request_timeout`: a hanging
                # provider must not hold the user for attempts × `first_token_timeout`.
                async with asyncio.timeout_at(deadline):
                    opened: tuple[AsyncIterator[Chunk], Chunk] = await retrying(
                        self._open, messages, model, api_key, max_tokens
                    )
            except TimeoutError as exc:
                raise ProviderError(ErrorKind.TIMEOUT, self.name, "no answer in time") from exc
            stream, first = opened
            try:
                chunk: Chunk | None = first
                while chunk is not None:
                    yield chunk
                    if chunk.usage is not None or chunk.finish is not None:
                        break
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        raise ProviderError(ErrorKind.TIMEOUT, self.name, "request too long")
                    try:
                        async with asyncio.timeout(min(remaining, self.settings.idle_timeout)):
                            chunk = await anext(stream, None)
                    except TimeoutError as exc:
                        raise ProviderError(ErrorKind.TIMEOUT, self.name, "stream stalled") from exc
                    except ProviderError:
                        raise
                    except Exception as exc:
                        # The connection broke mid-answer (a reset, a truncated body): the SDKs
                        # let the transport's own error through here.
                        raise ProviderError(
                            ErrorKind.UNAVAILABLE, self.name, "stream broken"
                        ) from exc
            finally:
                await _close(stream)
            self.breaker.success()
            self.outcomes.add(failed=False)
            verdict = True
        except ProviderError as exc:
            if exc.kind.counts_for_breaker:
                self.breaker.failure(exc.kind)
                self.outcomes.add(failed=True)
                verdict = True
            raise
        finally:
            if not verdict:
                self.breaker.release()

    async def check_key(self, api_key: str) -> None:
        await self.inner.check_key(api_key)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _close(stream: AsyncIterator[Chunk]) -> None:
    closer = getattr(stream, "aclose", None)
    if closer is not None:
        await closer()


class ProviderRegistry:
    """All providers the process can reach. A provider is *configured* when the server holds its
    key (the OpenAI-compatible one: when its base URL is set); unconfigured ones are hidden from
    users, but a user's own key (BYOK) makes them usable for that user."""

    def __init__(
        self,
        providers: Mapping[ProviderName, Provider],
        settings: AISettings,
        *,
        configured: set[ProviderName],
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._configured = set(configured)
        self._providers: dict[ProviderName, ResilientProvider] = {
            name: ResilientProvider(
                provider,
                settings,
                breaker=CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown, clock),
                sleep=sleep,
                outcomes=OutcomeWindow(clock=clock),
            )
            for name, provider in providers.items()
        }

    @classmethod
    def from_settings(
        cls,
        settings: AISettings,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> ProviderRegistry:
        t = settings.request_timeout

        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() or None if value is not None else None

        def has(value: SecretStr | None) -> bool:
            return value is not None and bool(value.get_secret_value())

        openai_module = "services.ai.providers.openai_chat"
        providers: dict[ProviderName, Provider] = {
            ProviderName.OPENAI: DeferredProvider(
                ProviderName.OPENAI,
                openai_module,
                lambda m: m.OpenAIChatProvider(
                    api_key=secret(settings.openai_api_key),
                    base_url=settings.openai_base_url,
                    timeout=t,
                ),
                eager=has(settings.openai_api_key),
            ),
            ProviderName.ANTHROPIC: DeferredProvider(
                ProviderName.ANTHROPIC,
                "services.ai.providers.anthropic_messages",
                lambda m: m.AnthropicProvider(
                    api_key=secret(settings.anthropic_api_key),
                    base_url=settings.anthropic_base_url,
                    timeout=t,
                ),
                eager=has(settings.anthropic_api_key),
            ),
            ProviderName.GEMINI: DeferredProvider(
                ProviderName.GEMINI,
                "services.ai.providers.gemini",
                lambda m: m.GeminiProvider(
                    api_key=secret(settings.gemini_api_key),
                    base_url=settings.gemini_base_url,
                    timeout=t,
                ),
                eager=has(settings.gemini_api_key),
            ),
        }
        configured = {
            name
            for name, key in (
                (ProviderName.OPENAI, settings.openai_api_key),
                (ProviderName.ANTHROPIC, settings.anthropic_api_key),
                (ProviderName.GEMINI, settings.gemini_api_key),
            )
            if key is not None and key.get_secret_value()
        }
        if settings.compat_base_url:
            providers[ProviderName.COMPAT] = DeferredProvider(
                ProviderName.COMPAT,
                openai_module,
                lambda m: m.OpenAIChatProvider(
                    name=ProviderName.COMPAT,
                    api_key=secret(settings.compat_api_key),
                    base_url=settings.compat_base_url,
                    timeout=t,
                ),
                eager=True,
            )
            configured.add(ProviderName.COMPAT)
        return cls(providers, settings, configured=configured, clock=clock, sleep=sleep)

    def configured(self) -> list[ProviderName]:
        """Providers shown to every user, in catalogue order."""
        return [n for n in ProviderName if n in self._configured and n in self._providers]

    def is_configured(self, name: ProviderName) -> bool:
        return name in self._configured and name in self._providers

    def supports_byok(self, name: ProviderName) -> bool:
        return name in self._providers and name is not ProviderName.COMPAT

    def healthy(self, name: ProviderName) -> bool:
        p = self._providers.get(name)
        return p is not None and p.breaker.state is not BreakerState.OPEN

    def get(self, name: ProviderName) -> ResilientProvider:
        try:
            return self._providers[name]
        except KeyError:
            raise ProviderError(ErrorKind.UNAVAILABLE, name, "not configured") from None

    def stream(
        self,
        provider: ProviderName,
        messages: Sequence[ChatMessage],
        model: str,
        api_key: str | None = None,
        *,
        max_tokens: int | None = None,
    ) -> AsyncIterator[Chunk]:
        return self.get(provider).stream(messages, model, api_key, max_tokens=max_tokens)

    async def check_key(self, provider: ProviderName, api_key: str) -> None:
        await self.get(provider).check_key(api_key)

    def status(self) -> list[ProviderStatus]:
        out = []
        for name, p in self._providers.items():
            requests, failures = p.outcomes.counts()
            out.append(
                ProviderStatus(
                    provider=name,
                    configured=name in self._configured,
                    state=p.breaker.state,
                    consecutive_failures=p.breaker.failures,
                    last_error=p.breaker.last_error,
                    retry_in=p.breaker.retry_in(),
                    requests=requests,
                    failures=failures,
                )
            )
        return out

    async def aclose(self) -> None:
        for p in self._providers.values():
            try:
                await p.aclose()
            except Exception:  # closing is best effort at shutdown
                log.exception("closing provider %s failed", p.name)
