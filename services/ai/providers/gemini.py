"""Google Gemini through the official ``google-genai`` SDK (``streamGenerateContent?alt=sse``)."""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

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

_REFUSALS = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_SAFETY"}


def to_gemini(messages: Sequence[ChatMessage]) -> tuple[str | None, list[types.Content]]:
    system = "\n\n".join(m.content for m in messages if m.role == "system") or None
    contents: list[types.Content] = []
    for m in messages:
        if m.role == "system":
            continue
        role = "model" if m.role == "assistant" else "user"
        if contents and contents[-1].role == role and contents[-1].parts:
            contents[-1].parts.append(types.Part(text=m.content))
        else:
            contents.append(types.Content(role=role, parts=[types.Part(text=m.content)]))
    return system, contents


_open_responses: contextvars.ContextVar[list[aiohttp.ClientResponse] | None] = (
    contextvars.ContextVar("gemini_open_responses", default=None)
)


class _TrackedResponse(aiohttp.ClientResponse):
    """Remembers the responses opened by the current task, so that a cancelled stream can close
    its HTTP connection at once (the SDK's nested generators would otherwise wait for the GC)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        opened = _open_responses.get()
        if opened is not None:
            opened.append(self)


class GeminiProvider:
    def __init__(self, *, api_key: str | None, base_url: str | None = None, timeout: float = 60.0):
        self._api_key = api_key
        self._base_url = base_url
        self._timeout_ms = int(timeout * 1000)
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[str, genai.Client] = {}

    @property
    def name(self) -> ProviderName:
        return ProviderName.GEMINI

    def _client_for(self, api_key: str | None) -> genai.Client:
        key = api_key or self._api_key or "no-key"
        client = self._clients.get(key) if key == (self._api_key or "no-key") else None
        if client is not None:
            return client
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(response_class=_TrackedResponse)
        http = types.HttpOptions(
            base_url=self._base_url,
            timeout=self._timeout_ms,
            retry_options=types.HttpRetryOptions(attempts=1),
            aiohttp_client=self._session,
        )
        client = genai.Client(api_key=key, http_options=http)
        if key == (self._api_key or "no-key"):
            self._clients[key] = client
        return client

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        model: str,
        api_key: str | None = None,
        *,
        max_tokens: int | None = None,
    ) -> AsyncIterator[Chunk]:
        system, contents = to_gemini(messages)
        config = types.GenerateContentConfig(
            system_instruction=system,
            max_output_tokens=max_tokens,
        )
        client = self._client_for(api_key)
        usage: Usage | None = None
        finish: FinishReason | None = None
        produced = False
        opened: list[aiohttp.ClientResponse] = []
        token = _open_responses.set(opened)
        try:
            responses = await client.aio.models.generate_content_stream(
                model=model, contents=contents, config=config
            )
            try:
                async for response in responses:
                    feedback = response.prompt_feedback
                    if feedback is not None and feedback.block_reason is not None:
                        raise ProviderError(ErrorKind.REFUSED, self.name, "prompt blocked")
                    if response.usage_metadata is not None:
                        usage = _usage(response.usage_metadata) or usage
                    for candidate in response.candidates or []:
                        if candidate.index not in (None, 0):
                            continue
                        for part in (candidate.content.parts or []) if candidate.content else []:
                            if part.text and not part.thought:
                                produced = True
                                yield Chunk(text=part.text)
                        if candidate.finish_reason is not None:
                            finish = _finish(str(candidate.finish_reason.value))
            finally:
                closer: Any = getattr(responses, "aclose", None)
                if closer is not None:
                    await closer()
        except genai_errors.APIError as exc:
            raise self._error(exc) from exc
        except TimeoutError as exc:
            raise ProviderError(ErrorKind.TIMEOUT, self.name, "timed out") from exc
        except (OSError, aiohttp.ClientError) as exc:
            raise unavailable_error(self.name, exc) from exc
        finally:
            try:
                _open_responses.reset(token)
            except ValueError:  # closed from another context (e.g. by the GC's finaliser)
                _open_responses.set(None)
            for opened_response in opened:
                opened_response.close()
        if finish is FinishReason.REFUSED and not produced:
            raise ProviderError(ErrorKind.REFUSED, self.name, "safety")
        yield Chunk(usage=usage, finish=finish or FinishReason.STOP)

    async def check_key(self, api_key: str) -> None:
        try:
            pager = await self._client_for(api_key).aio.models.list(config={"page_size": 1})
            async for _ in pager:
                break
        except genai_errors.APIError as exc:
            raise self._error(exc) from exc
        except (OSError, aiohttp.ClientError) as exc:
            raise unavailable_error(self.name, exc) from exc

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aio.aclose()
        self._clients.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _error(self, exc: genai_errors.APIError) -> ProviderError:
        status = int(exc.code or 500)
        code = str(exc.status or "")
        message = str(exc.message or "")
        kind = status_to_kind(status, code=code, message=message)
        if code == "RESOURCE_EXHAUSTED" and "quota" in message.lower() and "day" in message.lower():
            kind = ErrorKind.QUOTA
        return status_error(kind, self.name, status, code)


def _usage(meta: types.GenerateContentResponseUsageMetadata) -> Usage | None:
    if meta.prompt_token_count is None and meta.candidates_token_count is None:
        return None
    output = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
    return Usage(meta.prompt_token_count or 0, output)


def _finish(reason: str) -> FinishReason:
    if reason == "MAX_TOKENS":
        return FinishReason.LENGTH
    if reason in _REFUSALS:
        return FinishReason.REFUSED
    return FinishReason.STOP
