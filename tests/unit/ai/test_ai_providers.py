"""The real SDKs against the local fake servers: streaming, usage, errors, retries, breaker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from services.ai.catalogue import ProviderName
from services.ai.config import AISettings
from services.ai.providers.base import ChatMessage, Chunk, ErrorKind, FinishReason, ProviderError
from services.ai.providers.registry import BreakerState, ProviderRegistry
from tests.fakes.ai_servers import (
    Fail,
    FakeAnthropic,
    FakeGemini,
    FakeOpenAI,
    FakeProviderServer,
    Hang,
    Reply,
)

KEY = "sk-server-key"
MESSAGES = [
    ChatMessage("system", "You are terse."),
    ChatMessage("user", "Hi there"),
    ChatMessage("assistant", "Hello!"),
    ChatMessage("user", "What is 2+2?"),
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def servers() -> AsyncIterator[dict[ProviderName, FakeProviderServer]]:
    fakes: dict[ProviderName, FakeProviderServer] = {
        ProviderName.OPENAI: FakeOpenAI(valid_keys=[KEY, "sk-user"]),
        ProviderName.ANTHROPIC: FakeAnthropic(valid_keys=[KEY, "sk-user"]),
        ProviderName.GEMINI: FakeGemini(valid_keys=[KEY, "sk-user"]),
        ProviderName.COMPAT: FakeOpenAI(),
    }
    for f in fakes.values():
        await f.start()
    yield fakes
    for f in fakes.values():
        await f.close()


def make_settings(fakes: dict[ProviderName, FakeProviderServer], **over: object) -> AISettings:
    values: dict[str, object] = {
        "openai_api_key": SecretStr(KEY),
        "openai_base_url": fakes[ProviderName.OPENAI].base_url,
        "anthropic_api_key": SecretStr(KEY),
        "anthropic_base_url": fakes[ProviderName.ANTHROPIC].base_url,
        "gemini_api_key": SecretStr(KEY),
        "gemini_base_url": fakes[ProviderName.GEMINI].base_url,
        "compat_base_url": fakes[ProviderName.COMPAT].base_url,
        "retry_base_delay": 0.0,
        "retry_max_delay": 0.0,
        "first_token_timeout": 5.0,
        "request_timeout": 10.0,
        "idle_timeout": 5.0,
    }
    values.update(over)
    return AISettings.model_validate(values)


MODELS = {
    ProviderName.OPENAI: "gpt-4o-mini",
    ProviderName.ANTHROPIC: "claude-haiku-4-5",
    ProviderName.GEMINI: "gemini-2.5-flash",
    ProviderName.COMPAT: "llama3.1:8b",
}


async def collect(stream: AsyncIterator[Chunk]) -> tuple[str, list[Chunk]]:
    chunks = [c async for c in stream]
    return "".join(c.text for c in chunks), chunks


@pytest.mark.parametrize("provider", list(ProviderName))
async def test_stream_text_and_real_usage(
    servers: dict[ProviderName, FakeProviderServer], provider: ProviderName
) -> None:
    fake = servers[provider]
    fake.queue(Reply("The answer is 4.", input_tokens=42, output_tokens=7))
    registry = ProviderRegistry.from_settings(make_settings(servers))
    try:
        text, chunks = await collect(registry.stream(provider, MESSAGES, MODELS[provider]))
    finally:
        await registry.aclose()
    assert text == "The answer is 4."
    assert len([c for c in chunks if c.text]) == 4  # streamed piece by piece
    last = chunks[-1]
    assert last.usage is not None
    assert (last.usage.input_tokens, last.usage.output_tokens) == (42, 7)
    assert last.finish is FinishReason.STOP
    (req,) = fake.stream_requests
    assert req.body is not None
    sent = str(req.body)
    assert "What is 2+2?" in sent
    assert "Hello!" in sent
    assert "You are terse." in sent


async def test_openai_request_asks_for_usage_chunk(
    servers: dict[ProviderName, FakeProviderServer],
) -> None:
    registry = ProviderRegistry.from_settings(make_settings(servers))
    try:
        await collect(registry.stream(ProviderName.OPENAI, MESSAGES, "gpt-4o-mini", max_tokens=99))
    finally:
        await registry.aclose()
    body = servers[ProviderName.OPENAI].stream_requests[0].body
    assert body is not None
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_completion_tokens"] == 99
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]


async def test_anthropic_system_is_separate_and_turns_alternate(
    servers: dict[ProviderName, FakeProviderServer],
) -> None:
    registry = ProviderRegistry.from_settings(make_settings(servers))
    msgs = [*MESSAGES, ChatMessage("user", "and 3+3?")]
    try:
        await collect(registry.stream(ProviderName.ANTHROPIC, msgs, "claude-haiku-4-5"))
    finally:
        await registry.aclose()
    body = servers[ProviderName.ANTHROPIC].stream_requests[0].body
    assert body is not None
    assert body["system"] == "You are terse."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][-1]["content"] == "What is 2+2?\n\nand 3+3?"
    assert body["stream"] is True


async def test_gemini_uses_model_role_and_system_instruction(
    servers: dict[ProviderName, FakeProviderServer],
) -> None:
    registry = ProviderRegistry.from_settings(make_settings(servers))
    try:
        await collect(registry.stream(ProviderName.GEMINI, MESSAGES, "gemini-2.5-flash"))
    finally:
        await registry.aclose()
    req = servers[ProviderName.GEMINI].stream_requests[0]
    assert req.path.endswith("gemini-2.5-flash:streamGenerateContent")
    assert req.query.get("alt") == "sse"
    assert req.body is not None
    assert [c["role"] for c in req.body["contents"]] == ["user", "model", "user"]
    assert "You are terse." in str(req.body.get("systemInstruction"))


@pytest.mark.parametrize("provider", [ProviderName.OPENAI, ProviderName.ANTHROPIC])
@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, ErrorKind.AUTH), (400, ErrorKind.BAD_REQUEST)],
)
async def test_errors_are_not_retried_when_not_retryable(
    servers: dict[ProviderName, FakeProviderServer],
    provider: ProviderName,
    status: int,
    kind: ErrorKind,
) -> None:
    servers[provider].queue(Fail(status))
    registry = ProviderRegistry.from_settings(make_settings(servers))
    try:
        with pytest.raises(ProviderError) as info:
            await collect(registry.stream(provider, MESSAGES, MODELS[provider]))
    finally:
        await registry.aclose()
    assert info.value.kind is kind
    assert len(servers[provider].stream_requests) == 1


@pytest.mark.parametrize("provider", list(ProviderName))
async def test_retries_429_and_5xx_then_succeeds(
    servers: dict[ProviderName, FakeProviderServer], provider: ProviderName
) -> None:
    servers[provider].queue(Fail(429, "slow down"), Fail(503, "busy"), Reply("ok"))
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    registry = ProviderRegistry.from_settings(
        make_settings(servers, retry_attempts=3, retry_base_delay=0.25, retry_max_delay=4.0),
        sleep=sleep,
    )
    try:
        text, _ = await collect(registry.stream(provider, MESSAGES, MODELS[provider]))
    finally:
        await registry.aclose()
    assert text == "ok"
    assert len(servers[provider].stream_requests) == 3
    assert len(sleeps) == 2
    assert 0.125 <= sleeps[0] <= 0.25
    assert 0.25 <= sleeps[1] <= 0.5


async def test_retry_after_is_honoured(servers: dict[ProviderName, FakeProviderServer]) -> None:
    servers[ProviderName.OPENAI].queue(Fail(429, retry_after=3.0), Reply("ok"))
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    registry = ProviderRegistry.from_settings(
        make_settings(servers, retry_base_delay=0.1, retry_max_delay=8.0), sleep=sleep
    )
    try:
        await collect(registry.stream(ProviderName.OPENAI, MESSAGES, "gpt-4o-mini"))
    finally:
        await registry.aclose()
    assert sleeps == [pytest.approx(3.0)]


@pytest.mark.parametrize("provider", list(ProviderName))
async def test_gives_up_after_attempts_with_kind(
    servers: dict[ProviderName, FakeProviderServer], provider: ProviderName
) -> None:
    servers[provider].queue(Fail(500), Fail(500), Fail(500))
    registry = ProviderRegistry.from_settings(make_settings(servers, retry_attempts=3))
    try:
        with pytest.raises(ProviderError) as info:
            await collect(registry.stream(provider, MESSAGES, MODELS[provider]))
    finally:
        await registry.aclose()
    assert info.value.kind is ErrorKind.UNAVAILABLE
    assert len(servers[provider].stream_requests) == 3


@pytest.mark.parametrize("provider", list(ProviderName))
async def test_refusal_is_reported(
    servers: dict[ProviderName, FakeProviderServer], provider: ProviderName
) -> None:
    servers[provider].queue(Reply("", pieces=[], refuse=True))
    registry = ProviderRegistry.from_settings(make_settings(servers))
    try:
        with pytest.raises(ProviderError) as info:
            await collect(registry.stream(provider, MESSAGES, MODELS[provider]))
    finally:
        await registry.aclose()
    assert info.value.kind is ErrorKind.REFUSED


async def test_gemini_bad_key_is_auth(servers: dict[ProviderName, FakeProviderServer]) -> None:
    registry = ProviderRegistry.from_settings(make_settings(servers))
    try:
        with pytest.raises(ProviderError) as info:
            await registry.check_key(ProviderName.GEMINI, "wrong")
        await registry.check_key(ProviderName.GEMINI, "sk-user")
    finally:
        await registry.aclose()
    assert info.value.kind is ErrorKind.AUTH


@pytest.mark.parametrize("provider", [ProviderName.OPENAI, ProviderName.ANTHROPIC])
async def test_check_key_with_one_cheap_call(
    servers: dict[ProviderName, FakeProviderServer], provider: ProviderName
) -> None:
    registry = ProviderRegistry.from_settings(make_settings(servers))
    try:
        await registry.check_key(provider, "sk-user")
        with pytest.raises(ProviderError) as info:
            await registry.check_key(provider, "sk-wrong")
    finally:
        await registry.aclose()
    assert info.value.kind is ErrorKind.AUTH
    gets = [r for r in servers[provider].requests if r.method == "GET"]
    assert [r.api_key for r in gets] == ["sk-user", "sk-wrong"]
    assert servers[provider].stream_requests == []


async def test_byok_key_is_sent_instead_of_server_key(
    servers: dict[ProviderName, FakeProviderServer],
) -> None:
    registry = ProviderRegistry.from_settings(make_settings(servers))
    try:
        for provider in (ProviderName.OPENAI, ProviderName.ANTHROPIC, ProviderName.GEMINI):
            await collect(registry.stream(provider, MESSAGES, MODELS[provider], "sk-user"))
            assert servers[provider].stream_requests[-1].api_key == "sk-user"
    finally:
        await registry.aclose()


async def test_first_token_timeout(servers: dict[ProviderName, FakeProviderServer]) -> None:
    servers[ProviderName.OPENAI].queue(Hang(30))
    registry = ProviderRegistry.from_settings(
        make_settings(servers, first_token_timeout=0.2, retry_attempts=1)
    )
    try:
        with pytest.raises(ProviderError) as info:
            await collect(registry.stream(ProviderName.OPENAI, MESSAGES, "gpt-4o-mini"))
    finally:
        await registry.aclose()
    assert info.value.kind is ErrorKind.TIMEOUT


async def test_idle_timeout_mid_stream(servers: dict[ProviderName, FakeProviderServer]) -> None:
    servers[ProviderName.ANTHROPIC].queue(Reply("a b c", delay=5.0))
    registry = ProviderRegistry.from_settings(make_settings(servers, idle_timeout=0.2))
    got: list[str] = []

    async def consume() -> None:
        async for chunk in registry.stream(ProviderName.ANTHROPIC, MESSAGES, "claude-haiku-4-5"):
            got.append(chunk.text)

    try:
        with pytest.raises(ProviderError) as info:
            await consume()
    finally:
        await registry.aclose()
    assert info.value.kind is ErrorKind.TIMEOUT
    assert got == ["a "]


@pytest.mark.parametrize("provider", list(ProviderName))
async def test_closing_the_stream_cancels_the_request(
    servers: dict[ProviderName, FakeProviderServer], provider: ProviderName
) -> None:
    fake = servers[provider]
    fake.queue(Reply(" ".join(["word"] * 50), delay=0.05))
    registry = ProviderRegistry.from_settings(make_settings(servers))
    try:
        stream = registry.stream(provider, MESSAGES, MODELS[provider])
        got = [await anext(stream), await anext(stream)]
        await stream.aclose()  # type: ignore[attr-defined]
        for _ in range(100):  # the server notices the closed connection on its next write
            if fake.disconnects:
                break
            await asyncio.sleep(0.05)
    finally:
        await registry.aclose()
    assert [c.text for c in got] == ["word ", "word "]
    assert fake.disconnects == 1
    assert fake.completed == 0
    status = {s.provider: s for s in registry.status()}
    assert status[provider].state is BreakerState.CLOSED
    assert status[provider].consecutive_failures == 0


async def test_circuit_breaker_opens_and_recovers(
    servers: dict[ProviderName, FakeProviderServer],
) -> None:
    clock = FakeClock()
    fake = servers[ProviderName.OPENAI]
    registry = ProviderRegistry.from_settings(
        make_settings(servers, retry_attempts=1, breaker_failures=3, breaker_cooldown=30),
        clock=clock,
    )

    async def call() -> str:
        text, _ = await collect(registry.stream(ProviderName.OPENAI, MESSAGES, "gpt-4o-mini"))
        return text

    try:
        fake.queue(Fail(500), Fail(500), Fail(500))
        for _ in range(3):
            with pytest.raises(ProviderError):
                await call()
        status = {s.provider: s for s in registry.status()}[ProviderName.OPENAI]
        assert status.state is BreakerState.OPEN
        assert status.last_error is ErrorKind.UNAVAILABLE
        assert status.retry_in == pytest.approx(30)
        with pytest.raises(ProviderError) as info:
            await call()  # not even sent
        assert info.value.message == "circuit open"
        assert len(fake.stream_requests) == 3
        assert not registry.healthy(ProviderName.OPENAI)

        clock.now += 31  # half-open: one trial; it fails and the breaker opens again
        fake.queue(Fail(502))
        with pytest.raises(ProviderError):
            await call()
        assert {s.provider: s for s in registry.status()}[
            ProviderName.OPENAI
        ].state is BreakerState.OPEN

        clock.now += 31
        assert await call() == "Hello from the fake model."
        status = {s.provider: s for s in registry.status()}[ProviderName.OPENAI]
        assert status.state is BreakerState.CLOSED
        assert status.consecutive_failures == 0
        # the other providers were never affected
        assert all(
            s.state is BreakerState.CLOSED
            for s in registry.status()
            if s.provider is not ProviderName.OPENAI
        )
    finally:
        await registry.aclose()


async def test_user_key_errors_do_not_open_the_breaker(
    servers: dict[ProviderName, FakeProviderServer],
) -> None:
    registry = ProviderRegistry.from_settings(make_settings(servers, breaker_failures=2))
    try:
        for _ in range(3):
            with pytest.raises(ProviderError) as info:
                await collect(
                    registry.stream(ProviderName.OPENAI, MESSAGES, "gpt-4o-mini", "sk-bad")
                )
            assert info.value.kind is ErrorKind.AUTH
    finally:
        await registry.aclose()
    assert registry.healthy(ProviderName.OPENAI)


def test_hidden_without_key_except_compat_with_base_url() -> None:
    settings = AISettings(compat_base_url="http://127.0.0.1:9/v1")
    registry = ProviderRegistry.from_settings(settings)
    assert registry.configured() == [ProviderName.COMPAT]
    assert registry.supports_byok(ProviderName.ANTHROPIC)
    assert not registry.supports_byok(ProviderName.COMPAT)
    assert {s.provider: s.configured for s in registry.status()} == {
        ProviderName.OPENAI: False,
        ProviderName.ANTHROPIC: False,
        ProviderName.GEMINI: False,
        ProviderName.COMPAT: True,
    }
    assert ProviderRegistry.from_settings(AISettings()).configured() == []


async def test_connection_refused_is_unavailable() -> None:
    settings = AISettings(
        openai_api_key=SecretStr("k"),
        openai_base_url="http://127.0.0.1:9/v1",
        retry_attempts=2,
        retry_base_delay=0,
        retry_max_delay=0,
    )
    registry = ProviderRegistry.from_settings(settings)
    try:
        with pytest.raises(ProviderError) as info:
            await collect(registry.stream(ProviderName.OPENAI, MESSAGES, "gpt-4o-mini"))
    finally:
        await registry.aclose()
    assert info.value.kind is ErrorKind.UNAVAILABLE
