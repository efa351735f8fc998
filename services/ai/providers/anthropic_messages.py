"""Anthropic messages API through the official ``anthropic`` SDK (streaming SSE events)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import anthropic
from anthropic import AsyncAnthropic
from anthropic.types import AssistantMessageParam, MessageParam, UserMessageParam

from services.ai.catalogue import ProviderName
from services.ai.providers.base import (
    ChatMessage,
    Chunk,
    ErrorKind,
    FinishReason,
    ProviderError,
    Usage,
    status_to_kind,
)
from services.ai.providers.errors import status_error, unavailable_error

DEFAULT_MAX_TOKENS = 4096


def to_anthropic(messages: Sequence[ChatMessage]) -> tuple[str | None, list[MessageParam]]:
    """Split out the system prompt and merge consecutive same-role turns.

    The messages API takes the system prompt separately and wants user/assistant turns to
    alternate, starting with the user.
    """
    system_parts = [m.content for m in messages if m.role == "system"]
    turns: list[tuple[str, list[str]]] = []
    for m in messages:
        if m.role == "system":
            continue
        if turns and turns[-1][0] == m.role:
            turns[-1][1].append(m.content)
        else:
            turns.append((m.role, [m.content]))
    if turns and turns[0][0] == "assistant":
        turns.insert(0, ("user", ["…"]))
    out: list[MessageParam] = [
        UserMessageParam(role="user", content="\n\n".join(parts))
        if role == "user"
        else AssistantMessageParam(role="assistant", content="\n\n".join(parts))
        for role, parts in turns
    ]
    return ("\n\n".join(system_parts) or None), out


class AnthropicProvider:
    def __init__(self, *, api_key: str | None, base_url: str | None = None, timeout: float = 60.0):
        self._client = AsyncAnthropic(
            api_key=api_key or "no-key",
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
        )

    @property
    def name(self) -> ProviderName:
        return ProviderName.ANTHROPIC

    def _client_for(self, api_key: str | None) -> AsyncAnthropic:
        return self._client.with_options(api_key=api_key) if api_key else self._client

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        model: str,
        api_key: str | None = None,
        *,
        max_tokens: int | None = None,
    ) -> AsyncIterator[Chunk]:
        system, turns = to_anthropic(messages)
        client = self._client_for(api_key)
        try:
            stream = await client.messages.create(
                model=model,
                messages=turns,
                system=system if system is not None else anthropic.omit,
                max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
                stream=True,
            )
        except anthropic.AnthropicError as exc:
            raise self._error(exc) from exc
        input_tokens: int | None = None
        output_tokens: int | None = None
        finish: FinishReason | None = None
        produced = False
        try:
            async for event in stream:
                if event.type == "message_start":
                    u = event.message.usage
                    input_tokens = (
                        u.input_tokens
                        + (u.cache_creation_input_tokens or 0)
                        + (u.cache_read_input_tokens or 0)
                    )
                    output_tokens = u.output_tokens
                elif event.type == "content_block_delta":
                    if event.delta.type == "text_delta" and event.delta.text:
                        produced = True
                        yield Chunk(text=event.delta.text)
                elif event.type == "message_delta":
                    output_tokens = event.usage.output_tokens
                    finish = _finish(event.delta.stop_reason)
        except anthropic.AnthropicError as exc:
            raise self._error(exc) from exc
        finally:
            await stream.close()
        if finish is FinishReason.REFUSED and not produced:
            raise ProviderError(ErrorKind.REFUSED, ProviderName.ANTHROPIC, "refusal")
        usage = Usage(input_tokens, output_tokens or 0) if input_tokens is not None else None
        yield Chunk(usage=usage, finish=finish or FinishReason.STOP)

    async def check_key(self, api_key: str) -> None:
        try:
            await self._client_for(api_key).models.list(limit=1)
        except anthropic.AnthropicError as exc:
            raise self._error(exc) from exc

    async def aclose(self) -> None:
        await self._client.close()

    def _error(self, exc: anthropic.AnthropicError) -> ProviderError:
        name = ProviderName.ANTHROPIC
        if isinstance(exc, anthropic.APITimeoutError):
            return ProviderError(ErrorKind.TIMEOUT, name, "timed out")
        if isinstance(exc, anthropic.APIConnectionError):
            return ProviderError(ErrorKind.UNAVAILABLE, name, "connection failed")
        if isinstance(exc, anthropic.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            err = body.get("error") if isinstance(body.get("error"), dict) else {}
            code = str(err.get("type", "")) if isinstance(err, dict) else ""
            status = exc.status_code
            kind = status_to_kind(status, code=code, message=exc.message)
            if status == 529 or code == "overloaded_error":
                kind = ErrorKind.UNAVAILABLE
            return status_error(kind, name, status, code, headers=exc.response.headers)
        if isinstance(exc, anthropic.APIError):
            # Errors sent inside the SSE stream (``event: error``), e.g. overloaded_error.
            text = str(exc).lower()
            kind = ErrorKind.UNAVAILABLE
            if "rate_limit" in text:
                kind = ErrorKind.RATE_LIMIT
            return ProviderError(kind, name, "stream error")
        return unavailable_error(name, exc)


def _finish(reason: str | None) -> FinishReason:
    if reason == "max_tokens":
        return FinishReason.LENGTH
    if reason == "refusal":
        return FinishReason.REFUSED
    return FinishReason.STOP
