"""Local fake AI provider servers speaking each provider's documented wire format.

The real SDKs (``openai``, ``anthropic``, ``google-genai``) talk to these over HTTP, so their
request building and SSE parsing is exercised for real:

- OpenAI chat completions (``POST /v1/chat/completions``), with ``stream=true``: ``data: {json}``
  chunks (``chat.completion.chunk``), a final usage chunk with empty ``choices`` when
  ``stream_options.include_usage`` is set, then ``data: [DONE]``; ``GET /v1/models``.
- Anthropic messages (``POST /v1/messages`` with ``stream: true``): ``message_start`` (input
  usage), ``content_block_start``, ``ping``, ``content_block_delta`` (``text_delta``),
  ``content_block_stop``, ``message_delta`` (stop reason + output usage), ``message_stop``;
  ``GET /v1/models``.
- Gemini (``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``, also under ``/v1``):
  ``data: {json}`` ``GenerateContentResponse`` chunks with ``usageMetadata``;
  ``GET /v1beta/models``.

Each server is scriptable (queue ``Reply``/``Fail``/``Hang`` steps; the ``default`` answers when
the queue is empty) and records every request it receives (so tests can assert the context sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web


@dataclass
class Reply:
    """Stream ``text`` back in ``pieces`` (default: word by word), ``delay`` seconds apart."""

    text: str = "Hello from the fake model."
    pieces: Sequence[str] | None = None
    delay: float = 0.0
    first_delay: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    refuse: bool = False
    """End with the provider's refusal signal (content filter / refusal / SAFETY)."""
    include_usage: bool = True
    cut_after: int | None = None
    """Drop the connection (no end of stream) after this many pieces, as a crashed server does."""

    def chunks(self) -> list[str]:
        if self.pieces is not None:
            return list(self.pieces)
        out: list[str] = []
        word = ""
        for ch in self.text:
            word += ch
            if ch in " \n":
                out.append(word)
                word = ""
        if word:
            out.append(word)
        return out


@dataclass
class Fail:
    """Answer with an HTTP error in the provider's documented error shape."""

    status: int
    message: str = "scripted failure"
    code: str | None = None
    retry_after: float | None = None


@dataclass
class Hang:
    """Accept the request and say nothing for ``seconds`` (the client should time out)."""

    seconds: float = 3600.0


Step = Reply | Fail | Hang


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any] | None
    at: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    """When the first piece of the reply was written (``time.monotonic``)."""

    @property
    def api_key(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth.removeprefix("Bearer ")
        return self.headers.get("x-api-key") or self.headers.get("x-goog-api-key")


class FakeProviderServer:
    """Common machinery: an aiohttp app on 127.0.0.1, a script queue and a request log."""

    def __init__(self, *, valid_keys: Sequence[str] | None = None) -> None:
        self.script: deque[Step] = deque()
        self.default: Step = Reply()
        self.requests: list[RecordedRequest] = []
        self.valid_keys: set[str] | None = set(valid_keys) if valid_keys is not None else None
        self.disconnects = 0
        """Streams the client abandoned before the end (a cancelled request)."""
        self.completed = 0
        self.first_token_at: list[float] = []
        self._runner: web.AppRunner | None = None
        self._port = 0
        self.app = web.Application()
        self.setup_routes(self.app)

    # -- lifecycle --------------------------------------------------------------------------
    def setup_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None)
        assert sockets
        self._port = int(sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    # -- scripting --------------------------------------------------------------------------
    def queue(self, *steps: Step) -> None:
        self.script.extend(steps)

    def next_step(self) -> Step:
        return self.script.popleft() if self.script else self.default

    @property
    def stream_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST"]

    async def record(self, request: web.Request) -> RecordedRequest:
        body: dict[str, Any] | None = None
        if request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        rec = RecordedRequest(
            method=request.method,
            path=request.path,
            headers=dict(request.headers),
            query=dict(request.query),
            body=body,
        )
        self.requests.append(rec)
        return rec

    def key_ok(self, rec: RecordedRequest) -> bool:
        return self.valid_keys is None or rec.api_key in self.valid_keys

    async def run_stream(
        self,
        request: web.Request,
        events: AsyncIterator[bytes],
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        )
        await response.prepare(request)
        try:
            async for event in events:
                await response.write(event)
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects += 1
            raise
        self.completed += 1
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    async def pace(
        self, reply: Reply, index: int, request: web.Request, rec: RecordedRequest | None = None
    ) -> None:
        if reply.cut_after is not None and index >= reply.cut_after:
            transport = request.transport
            if transport is not None:
                transport.abort()  # a reset, not a clean end: the client sees a broken stream
            raise ConnectionResetError("stream cut by the script")
        wait = reply.first_delay if index == 0 else reply.delay
        if wait > 0:
            if wait <= 0.5:
                await asyncio.sleep(wait)  # exact pace for short waits
            else:
                await _hang(Hang(wait), request)
            transport = request.transport
            if transport is None or transport.is_closing():
                raise ConnectionResetError("client went away")
        if index == 0:
            now = time.monotonic()
            self.first_token_at.append(now)
            if rec is not None:
                rec.first_token_at = now

    @staticmethod
    def prompt_tokens(texts: Sequence[str]) -> int:
        return max(1, sum(len(t) for t in texts) // 4)


def _sse(data: object, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


async def _hang(step: Hang, request: web.Request) -> None:
    """Say nothing until ``step.seconds`` pass or the client goes away."""
    loop = asyncio.get_running_loop()
    until = loop.time() + step.seconds
    while loop.time() < until:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------------------------------------
# OpenAI (and every OpenAI-compatible server)
# ---------------------------------------------------------------------------------------------
class FakeOpenAI(FakeProviderServer):
    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_get("/v1/models", self.list_models)

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    @staticmethod
    def error(step: Fail) -> web.Response:
        kind = {
            401: "invalid_request_error",
            403: "permission_denied",
            429: "rate_limit_exceeded",
        }.get(step.status, "server_error")
        code = step.code or {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(step.status)
        headers = {}
        if step.retry_after is not None:
            headers["retry-after-ms"] = str(int(step.retry_after * 1000))
        return web.json_response(
            {"error": {"message": step.message, "type": kind, "param": None, "code": code}},
            status=step.status,
            headers=headers,
        )

    async def list_models(self, request: web.Request) -> web.Response:
        rec = await self.record(request)
        if not self.key_ok(rec):
            return self.error(Fail(401, "Incorrect API key provided"))
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "fake"},
                ],
            }
        )

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        rec = await self.record(request)
        if not self.key_ok(rec):
            return self.error(Fail(401, "Incorrect API key provided"))
        step = self.next_step()
        if isinstance(step, Fail):
            return self.error(step)
        if isinstance(step, Hang):
            await _hang(step, request)
            return web.json_response({}, status=504)
        body = rec.body or {}
        model = str(body.get("model", "gpt-4o-mini"))
        messages = body.get("messages", [])
        prompt = [str(m.get("content", "")) for m in messages]
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        pieces = step.chunks()
        usage = {
            "prompt_tokens": step.input_tokens or self.prompt_tokens(prompt),
            "completion_tokens": step.output_tokens or len(pieces),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        created = int(time.time())
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
        }

        if not body.get("stream"):
            return web.json_response(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(pieces)},
                            "finish_reason": "content_filter" if step.refuse else "stop",
                            "logprobs": None,
                        }
                    ],
                    "usage": usage,
                }
            )

        async def events() -> AsyncIterator[bytes]:
            first = {"index": 0, "delta": {"role": "assistant", "content": ""}}
            yield _sse(base | {"choices": [first | {"logprobs": None, "finish_reason": None}]})
            for i, piece in enumerate(pieces):
                await self.pace(step, i, request, rec)
                choice = {"index": 0, "delta": {"content": piece}, "logprobs": None}
                yield _sse(base | {"choices": [choice | {"finish_reason": None}]})
            finish = "content_filter" if step.refuse else "stop"
            yield _sse(
                base
                | {
                    "choices": [
                        {"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}
                    ]
                }
            )
            if include_usage and step.include_usage:
                yield _sse(base | {"choices": [], "usage": usage})
            yield _sse("[DONE]")

        return await self.run_stream(request, events())


# ---------------------------------------------------------------------------------------------
# Anthropic
# ---------------------------------------------------------------------------------------------
class FakeAnthropic(FakeProviderServer):
    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self.messages)
        app.router.add_get("/v1/models", self.list_models)

    @property
    def base_url(self) -> str:
        return self.origin

    @staticmethod
    def error(step: Fail) -> web.Response:
        kind = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(step.status, "api_error")
        headers = {}
        if step.retry_after is not None:
            headers["retry-after-ms"] = str(int(step.retry_after * 1000))
        return web.json_response(
            {"type": "error", "error": {"type": step.code or kind, "message": step.message}},
            status=step.status,
            headers=headers,
        )

    async def list_models(self, request: web.Request) -> web.Response:
        rec = await self.record(request)
        if not self.key_ok(rec):
            return self.error(Fail(401, "invalid x-api-key"))
        return web.json_response(
            {
                "data": [
                    {
                        "type": "model",
                        "id": "claude-haiku-4-5",
                        "display_name": "Claude Haiku 4.5",
                        "created_at": "2024-10-22T00:00:00Z",
                    }
                ],
                "has_more": False,
                "first_id": "claude-haiku-4-5",
                "last_id": "claude-haiku-4-5",
            }
        )

    async def messages(self, request: web.Request) -> web.StreamResponse:
        rec = await self.record(request)
        if not self.key_ok(rec):
            return self.error(Fail(401, "invalid x-api-key"))
        step = self.next_step()
        if isinstance(step, Fail):
            return self.error(step)
        if isinstance(step, Hang):
            await _hang(step, request)
            return web.json_response({}, status=504)
        body = rec.body or {}
        model = str(body.get("model", "claude"))
        texts: list[str] = []
        system = body.get("system")
        if isinstance(system, str):
            texts.append(system)
        for m in body.get("messages", []):
            content = m.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts.extend(str(b.get("text", "")) for b in content if isinstance(b, dict))
        pieces = step.chunks()
        input_tokens = step.input_tokens or self.prompt_tokens(texts)
        output_tokens = step.output_tokens or len(pieces)
        stop_reason = "refusal" if step.refuse else "end_turn"

        async def events() -> AsyncIterator[bytes]:
            yield _sse(
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_fake",
                        "type": "message",
                        "role": "assistant",
                        "content": [],
                        "model": model,
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": input_tokens, "output_tokens": 1},
                    },
                },
                "message_start",
            )
            yield _sse(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            )
            yield _sse({"type": "ping"}, "ping")
            for i, piece in enumerate(pieces):
                await self.pace(step, i, request, rec)
                yield _sse(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                    "content_block_delta",
                )
            yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            yield _sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": output_tokens},
                },
                "message_delta",
            )
            yield _sse({"type": "message_stop"}, "message_stop")

        return await self.run_stream(request, events())


# ---------------------------------------------------------------------------------------------
# Google Gemini (Generative Language API, v1beta)
# ---------------------------------------------------------------------------------------------
class FakeGemini(FakeProviderServer):
    def setup_routes(self, app: web.Application) -> None:
        # The SDK picks the API version (v1 or v1beta); both speak the same format.
        app.router.add_post("/{version:v1|v1beta}/models/{model_action}", self.generate)
        app.router.add_get("/{version:v1|v1beta}/models", self.list_models)

    @property
    def base_url(self) -> str:
        return f"{self.origin}/"

    @staticmethod
    def error(step: Fail) -> web.Response:
        status_name = {
            400: "INVALID_ARGUMENT",
            401: "UNAUTHENTICATED",
            403: "PERMISSION_DENIED",
            429: "RESOURCE_EXHAUSTED",
            500: "INTERNAL",
            503: "UNAVAILABLE",
        }.get(step.status, "UNKNOWN")
        return web.json_response(
            {
                "error": {
                    "code": step.status,
                    "message": step.message,
                    "status": step.code or status_name,
                }
            },
            status=step.status,
        )

    async def list_models(self, request: web.Request) -> web.Response:
        rec = await self.record(request)
        if not self.key_ok(rec):
            return self.error(Fail(400, "API key not valid. Please pass a valid API key."))
        return web.json_response(
            {
                "models": [
                    {
                        "name": "models/gemini-2.5-flash",
                        "displayName": "Gemini 2.5 Flash",
                        "inputTokenLimit": 1048576,
                        "outputTokenLimit": 65536,
                        "supportedGenerationMethods": ["generateContent"],
                    }
                ]
            }
        )

    async def generate(self, request: web.Request) -> web.StreamResponse:
        rec = await self.record(request)
        if not self.key_ok(rec):
            return self.error(Fail(400, "API key not valid. Please pass a valid API key."))
        model, _, action = request.match_info["model_action"].partition(":")
        if action not in ("streamGenerateContent", "generateContent"):
            return self.error(Fail(404, f"unknown action {action}", code="NOT_FOUND"))
        step = self.next_step()
        if isinstance(step, Fail):
            return self.error(step)
        if isinstance(step, Hang):
            await _hang(step, request)
            return web.json_response({}, status=504)
        body = rec.body or {}
        texts: list[str] = []
        for content in body.get("contents", []):
            texts.extend(str(p.get("text", "")) for p in content.get("parts", []))
        system = body.get("systemInstruction") or body.get("system_instruction")
        if isinstance(system, dict):
            texts.extend(str(p.get("text", "")) for p in system.get("parts", []))
        pieces = step.chunks()
        prompt_tokens = step.input_tokens or self.prompt_tokens(texts)
        output_tokens = step.output_tokens or len(pieces)

        def usage(done: int) -> dict[str, int]:
            return {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": done,
                "totalTokenCount": prompt_tokens + done,
            }

        if step.refuse and not pieces:
            blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage(0)}
            if action == "generateContent":
                return web.json_response(blocked)

            async def blocked_events() -> AsyncIterator[bytes]:
                yield _sse(blocked)

            return await self.run_stream(request, blocked_events())

        if action == "generateContent":
            return web.json_response(
                {
                    "candidates": [
                        {
                            "content": {"parts": [{"text": "".join(pieces)}], "role": "model"},
                            "finishReason": "SAFETY" if step.refuse else "STOP",
                            "index": 0,
                        }
                    ],
                    "usageMetadata": usage(output_tokens),
                    "modelVersion": model.removeprefix("models/"),
                }
            )

        async def events() -> AsyncIterator[bytes]:
            for i, piece in enumerate(pieces):
                await self.pace(step, i, request, rec)
                last = i == len(pieces) - 1
                candidate: dict[str, Any] = {
                    "content": {"parts": [{"text": piece}], "role": "model"},
                    "index": 0,
                }
                if last:
                    candidate["finishReason"] = "SAFETY" if step.refuse else "STOP"
                chunk: dict[str, Any] = {
                    "candidates": [candidate],
                    "modelVersion": model.removeprefix("models/"),
                    "responseId": "fake",
                }
                if step.include_usage:
                    chunk["usageMetadata"] = usage(output_tokens if last else i + 1)
                yield _sse(chunk)

        return await self.run_stream(request, events())
