"""Turning SDK failures into ``ProviderError``: the pieces the provider adapters share."""

from __future__ import annotations

from typing import Any

from services.ai.catalogue import ProviderName
from services.ai.providers.base import ErrorKind, ProviderError


def retry_after(headers: Any) -> float | None:
    """``retry-after-ms`` or ``retry-after`` (seconds) as sent by OpenAI and Anthropic."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) * scale)
        except ValueError:
            continue
    return None


def status_error(
    kind: ErrorKind, provider: ProviderName, status: int, code: str, *, headers: Any = None
) -> ProviderError:
    """An HTTP error answer, with the provider's ``retry-after`` when ``headers`` are given."""
    return ProviderError(
        kind,
        provider,
        f"HTTP {status} {code}".strip(),
        retry_after=retry_after(headers) if headers is not None else None,
        status=status,
    )


def unavailable_error(provider: ProviderName, exc: BaseException) -> ProviderError:
    """A failure with no HTTP answer: unavailable, the log names the exception type."""
    return ProviderError(ErrorKind.UNAVAILABLE, provider, type(exc).__name__)
