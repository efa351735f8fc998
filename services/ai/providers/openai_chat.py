"""OpenAI chat completions through the official ``openai`` SDK.

The same class serves any OpenAI-compatible server (Ollama, vLLM, OpenRouter) given its base URL.
Retries are done one level up (``services.ai.providers.resilient``), so the SDK's own are off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import openai
from openai import AsyncOpenAI
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
)

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

_NO_KEY = "no-key"  # local OpenAI-compatible servers accept any bearer token


class OpenAIChatProvider:
    def __init__(
        self,
        *,
        name: ProviderName = ProviderName.OPENAI,
        api_key: str | None,
        base_url: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self._name = name
        self._client = AsyncOpenAI(
            api_key=api_key or _NO_KEY,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
        )

    @property
    def name(self) -> ProviderName:
        return self._name

    def _client_for(self, api_key: str | None) -> AsyncOpenAI:
        return self._client.with_options(api_key=api_key) if api_key else self._client

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        model: str,
        api_key: str | None = None,
        *,
        max_tokens: int | None = None,
    ) -> AsyncIterator[Chunk]:
        client = self._client_for(api_key)
        # The official API renamed the limit; compatible servers still read ``max_tokens``.
        official = self._name is ProviderName.OPENAI
        try:
            stream = await client.chat.completions.create(
                model=model,
                messages=[_param(m) for m in messages],
                stream=True,
                stream_options={"include_usage": True},
                max_completion_tokens=max_tokens if official and max_tokens else openai.omit,
                max_tokens=max_tokens if not official and max_tokens else openai.omit,
            )
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        usage: Usage | None = None
        finish: FinishReason | None = None
        produced = False
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    text = choice.delta.content if choice.delta else None
                    if text:
                        produced = True
                        yield Chunk(text=text)
                    if choice.finish_reason is not None:
                        finish = _finish(choice.finish_reason)
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        finally:
            await stream.close()
        if finish is FinishReason.REFUSED and not produced:
            raise ProviderError(ErrorKind.REFUSED, self._name, "content filter")
        yield Chunk(usage=usage, finish=finish or FinishReason.STOP)

    async def check_key(self, api_key: str) -> None:
        try:
            await self._client_for(api_key).models.list()
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc

    async def aclose(self) -> None:
        await self._client.close()

    def _error(self, exc: openai.OpenAIError) -> ProviderError:
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError(ErrorKind.TIMEOUT, self._name, "timed out")
        if isinstance(exc, openai.APIConnectionError):
            return ProviderError(ErrorKind.UNAVAILABLE, self._name, "connection failed")
        if isinstance(exc, openai.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            code = str(body.get("code") or body.get("type") or "")
            kind = status_to_kind(exc.status_code, code=code, message=exc.message)
            return status_error(
                kind, self._name, exc.status_code, code, headers=exc.response.headers
            )
        return unavailable_error(self._name, exc)


def _param(m: ChatMessage) -> ChatCompletionMessageParam:
    if m.role == "system":
        return ChatCompletionSystemMessageParam(role="system", content=m.content)
    if m.role == "assistant":
        return ChatCompletionAssistantMessageParam(role="assistant", content=m.content)
    return ChatCompletionUserMessageParam(role="user", content=m.content)


def _finish(reason: str) -> FinishReason:
    if reason == "length":
        return FinishReason.LENGTH
    if reason == "content_filter":
        return FinishReason.REFUSED
    return FinishReason.STOP
