"""The provider port: one streaming call, real usage at the end, and a small set of error kinds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

from services.ai.catalogue import ProviderName

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as reported by the provider itself."""

    input_tokens: int
    output_tokens: int

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


class FinishReason(StrEnum):
    STOP = "stop"
    LENGTH = "length"
    REFUSED = "refused"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a streamed reply. The last chunk of a stream carries ``usage`` and ``finish``."""

    text: str = ""
    usage: Usage | None = None
    finish: FinishReason | None = None


class ErrorKind(StrEnum):
    AUTH = "auth"
    QUOTA = "quota"
    RATE_LIMIT = "rate_limit"
    UNAVAILABLE = "unavailable"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    BAD_REQUEST = "bad_request"

    @property
    def retryable(self) -> bool:
        return self in {ErrorKind.RATE_LIMIT, ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT}

    @property
    def counts_for_breaker(self) -> bool:
        """Failures that say the provider itself is unwell (not the user's key or prompt)."""
        return self in {ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT, ErrorKind.RATE_LIMIT}


class ProviderError(Exception):
    """A provider call failed; ``kind`` says how, ``message`` is for logs (never for users)."""

    def __init__(
        self,
        kind: ErrorKind,
        provider: ProviderName | str,
        message: str = "",
        *,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(
            f"{provider}: {kind.value}: {message}" if message else f"{provider}: {kind}"
        )
        self.kind = kind
        self.provider = str(provider)
        self.message = message
        self.retry_after = retry_after
        self.status = status


class Provider(Protocol):
    """One AI provider. ``stream`` yields text chunks and ends with a chunk carrying real usage.

    ``api_key`` overrides the configured key (bring-your-own-key); implementations must not log it.
    """

    @property
    def name(self) -> ProviderName: ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        model: str,
        api_key: str | None = None,
        *,
        max_tokens: int | None = None,
    ) -> AsyncIterator[Chunk]: ...

    async def check_key(self, api_key: str) -> None:
        """One cheap call (listing models) that raises ``ProviderError`` when the key is bad."""
        ...

    async def aclose(self) -> None: ...


def status_to_kind(status: int, *, code: str = "", message: str = "") -> ErrorKind:
    """Map an HTTP status (and the provider's error code) to an error kind."""
    lowered = f"{code} {message}".lower()
    if status in (401, 403):
        return ErrorKind.AUTH
    if status == 402 or "insufficient_quota" in lowered or ("quota" in lowered and status == 429):
        return ErrorKind.QUOTA
    if status == 429:
        return ErrorKind.RATE_LIMIT
    if status in (408, 504):
        return ErrorKind.TIMEOUT
    if status >= 500:
        return ErrorKind.UNAVAILABLE
    if "api key" in lowered or "api_key" in lowered:
        return ErrorKind.AUTH
    if "safety" in lowered or "content_filter" in lowered or "content_policy" in lowered:
        return ErrorKind.REFUSED
    return ErrorKind.BAD_REQUEST
