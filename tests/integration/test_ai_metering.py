"""AI metering and context against a real database (PostgreSQL when TEST_DATABASE_URL is set):
reserve-then-settle under concurrency, the free allowance, summaries, the exchange log."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.engine import create_sessionmaker
from bot.db.models import CreditMovement, MovementKind
from bot.db.models.ai import AIAllowance, AISummary, AIUsage
from services import ledger, users
from services.ai.catalogue import Catalogue, ModelInfo, ProviderName
from services.ai.chat import AIService, ChatRequest, Outcome, ReplyUI
from services.ai.config import AISettings
from services.ai.metering import Meter, NotEnoughCredits, Payer
from services.ai.providers.base import Usage
from services.ai.stream import Markup
from services.crypto.fields import FieldCipher
from tests.fakes.ai_servers import FakeOpenAI, Reply

MODEL = ModelInfo("tenner", ProviderName.OPENAI, "Tenner", 100_000, 0, 100_000)
"""Output only: 100 output tokens cost exactly 10 credits."""


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


async def new_user(sm: async_sessionmaker[AsyncSession], user_id: int, credits: int) -> None:
    async with sm() as session:
        await users.get_or_create(session, user_id)
        if credits:
            await ledger.apply_movement(session, user_id, credits, MovementKind.GRANT)
        await session.commit()


async def balance_of(sm: async_sessionmaker[AsyncSession], user_id: int) -> int:
    async with sm() as session:
        return await ledger.balance(session, user_id)


@dataclass
class NullSender:
    """Telegram stand-in for service-level tests: accepts everything, counts messages."""

    sent: list[str] = field(default_factory=list)

    async def send_draft(
        self, chat_id: int, draft_id: int, text: str, *, html: bool, thread_id: int | None
    ) -> None:
        return None

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        html: bool,
        thread_id: int | None,
        reply_to: int | None,
        markup: Markup | None,
    ) -> int:
        self.sent.append(text)
        return len(self.sent)

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, *, html: bool, markup: Markup | None
    ) -> None:
        return None

    async def send_chat_action(self, chat_id: int, *, thread_id: int | None) -> None:
        return None


UI = ReplyUI(
    reply_markup=lambda _: None,
    stop_markup=lambda _: None,
    stopped_suffix=" (stopped)",
    failed_suffix=" (failed)",
)


@dataclass
class RecordingLog:
    records: list[tuple[int, Any, Mapping[str, Any]]] = field(default_factory=list)

    async def record(self, user_id: int, kind: Any, body: Mapping[str, Any]) -> object:
        self.records.append((user_id, kind, dict(body)))
        return "queued"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        assert isinstance(server, FakeOpenAI)
        yield server


def service(
    sm: async_sessionmaker[AsyncSession],
    fake: FakeOpenAI,
    tmp_path: Path,
    *,
    log: RecordingLog | None = None,
    **over: Any,
) -> AIService:
    values: dict[str, Any] = {
        "openai_api_key": SecretStr("sk-test"),
        "openai_base_url": fake.base_url,
        "default_model": MODEL.id,
        "free_daily_credits": 0,
        "min_reply_tokens": 100,
        "max_reply_tokens": 100,
        "edit_interval": 0.01,
        "draft_interval": 0.01,
        "retry_base_delay": 0,
        "retry_max_delay": 0,
    }
    values.update(over)
    settings = AISettings.model_validate(values)
    cipher = FieldCipher([b"k" * 32])
    return AIService(settings, sm, cipher, catalogue=Catalogue([MODEL]), exchange_log=log)


async def test_fifty_concurrent_messages_with_a_balance_for_ten(
    pg_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake: FakeOpenAI,
    tmp_path: Path,
) -> None:
    """PostgreSQL: 50 replies at once, a balance for 10 → at most 10 charged, never negative."""
    fake.default = Reply("ten tokens", input_tokens=20, output_tokens=100, delay=0.01)
    ai = service(sessionmaker, fake, tmp_path)
    await new_user(sessionmaker, 1, 100)
    sender = NullSender()
    try:
        results = await asyncio.gather(
            *(
                ai.reply(ChatRequest(1, 1, f"question {i}", private=True), sender, UI)
                for i in range(50)
            )
        )
    finally:
        await ai.aclose()
    ok = [r for r in results if r.outcome is Outcome.OK]
    refused = [r for r in results if r.outcome is Outcome.NO_CREDITS]
    assert len(ok) + len(refused) == 50
    assert len(ok) == 10
    assert all(r.cost == 10 for r in ok)
    assert len(fake.stream_requests) == 10  # refused replies never reached the model
    assert await balance_of(sessionmaker, 1) == 0
    async with sessionmaker() as session:
        assert await ledger.reconcile(session) == []
        statuses = (await session.scalars(select(AIUsage.status))).all()
    assert sorted(statuses) == ["settled"] * 10


async def test_reservation_caps_the_reply_and_settles_real_usage(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.queue(Reply("short", input_tokens=20, output_tokens=30))
    ai = service(sessionmaker, fake, tmp_path, max_reply_tokens=4000)
    await new_user(sessionmaker, 2, 25)  # pays for 250 output tokens, not 4000
    try:
        result = await ai.reply(ChatRequest(2, 2, "hi", private=True), NullSender(), UI)
    finally:
        await ai.aclose()
    assert result.outcome is Outcome.OK
    assert result.cost == 3  # 30 output tokens at 100,000 per million
    body = fake.stream_requests[0].body or {}
    assert body["max_completion_tokens"] == 250  # what the balance could pay for
    assert await balance_of(sessionmaker, 2) == 22
    async with sessionmaker() as session:
        kinds = (
            await session.scalars(
                select(CreditMovement.kind)
                .where(CreditMovement.user_id == 2)
                .order_by(CreditMovement.id)
            )
        ).all()
    assert kinds == [
        MovementKind.GRANT,
        MovementKind.RESERVE,
        MovementKind.RELEASE,
        MovementKind.USAGE,
    ]


async def test_free_allowance_first_then_credits(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    settings = AISettings(free_daily_credits=25, min_reply_tokens=100, max_reply_tokens=100)
    meter = Meter(sessionmaker, settings)
    await new_user(sessionmaker, 3, 10)
    first = await meter.reserve(3, MODEL, 0, own_key=False, exact_count=True)
    second = await meter.reserve(3, MODEL, 0, own_key=False, exact_count=True)
    assert (first.payer, first.amount) == (Payer.ALLOWANCE, 10)
    assert (second.payer, second.amount) == (Payer.ALLOWANCE, 10)
    third = await meter.reserve(3, MODEL, 0, own_key=False, exact_count=True)
    assert third.payer is Payer.CREDITS  # 5 left in the allowance: not a minimal reply
    with pytest.raises(NotEnoughCredits) as info:
        await meter.reserve(3, MODEL, 0, own_key=False, exact_count=True)
    assert (info.value.balance, info.value.needed) == (0, 10)
    assert await meter.settle(first, Usage(0, 50)) == 5
    await meter.release(second)
    assert await meter.settle(third, Usage(0, 100)) == 10
    async with sessionmaker() as session:
        used = await session.scalar(select(AIAllowance.used).where(AIAllowance.user_id == 3))
        report = await meter.report(session, 3)
    assert used == 5
    assert report.allowance_left == 20
    assert report.balance == 0
    assert (report.today.replies, report.today.cost) == (2, 15)
    assert report.month.output_tokens == 150
    # a second settle of the same reply charges nothing more
    assert await meter.settle(third, Usage(0, 100)) == 10
    assert await balance_of(sessionmaker, 3) == 0


async def test_stale_reservations_are_given_back(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    meter = Meter(
        sessionmaker,
        AISettings(free_daily_credits=0, min_reply_tokens=100, max_reply_tokens=100),
    )
    await new_user(sessionmaker, 4, 10)
    await meter.reserve(4, MODEL, 0, own_key=False, exact_count=True)
    assert await balance_of(sessionmaker, 4) == 0
    assert await Meter(sessionmaker, meter.settings, clock=lambda: later).release_stale() == 1
    assert await balance_of(sessionmaker, 4) == 10


async def test_long_history_is_summarised_once_and_reused(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeOpenAI, tmp_path: Path
) -> None:
    small = ModelInfo("small", ProviderName.OPENAI, "Small", 1200, 0, 0)
    log = RecordingLog()
    settings = AISettings(
        openai_api_key=SecretStr("k"),
        openai_base_url=fake.base_url,
        default_model="small",
        max_reply_tokens=200,
        retry_base_delay=0,
        retry_max_delay=0,
        summary_trigger_ratio=0.6,
    )
    ai = AIService(
        settings,
        sessionmaker,
        FieldCipher([b"s" * 32]),
        catalogue=Catalogue([small]),
        exchange_log=log,
    )
    await new_user(sessionmaker, 5, 0)
    long_reply = "details " * 60  # ~60 tokens a turn
    try:
        for i in range(10):
            fake.queue(Reply(f"{i}: {long_reply}"))
            result = await ai.reply(
                ChatRequest(5, 5, f"question {i}", private=True), NullSender(), UI
            )
            assert result.outcome is Outcome.OK
    finally:
        await ai.aclose()
    summary_calls = [r for r in fake.stream_requests if "Summarise the conversation" in str(r.body)]
    assert 1 <= len(summary_calls) < 4  # made once, then reused until it no longer fits
    last = fake.stream_requests[-1].body or {}
    texts = [str(m["content"]) for m in last["messages"]]
    assert any(t.startswith("Summary of the earlier conversation:") for t in texts)
    assert texts[-1] == "question 9"
    async with sessionmaker() as session:
        summaries = (await session.scalars(select(AISummary))).all()
    assert summaries
    assert all(s.content.startswith("f1.") for s in summaries)
    # every exchange went to the log, with its numbers
    assert len(log.records) == 10
    user_id, kind, body = log.records[0]
    assert (user_id, kind) == (5, "chat")
    assert body["prompt"] == "question 0"
    assert body["model"] == "small"
    assert body["cost"] == 0


async def test_a_prompt_handled_twice_is_charged_once(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeOpenAI, tmp_path: Path
) -> None:
    """An instance killed after the reply but before the update's "done" mark: the update is
    handled again. The user may get the answer twice; the credits are taken once. A new prompt
    (another message id) is charged as usual."""
    fake.default = Reply("ten tokens", input_tokens=20, output_tokens=100)
    ai = service(sessionmaker, fake, tmp_path)
    await new_user(sessionmaker, 7, 100)
    prompt = ChatRequest(7, 7, "hi", private=True, message_id=41)
    try:
        first = await ai.reply(prompt, NullSender(), UI)
        again = await ai.reply(prompt, NullSender(), UI)
        assert await balance_of(sessionmaker, 7) == 90
        other = await ai.reply(
            ChatRequest(7, 7, "hi", private=True, message_id=42), NullSender(), UI
        )
    finally:
        await ai.aclose()
    assert (first.outcome, again.outcome, other.outcome) == (Outcome.OK,) * 3
    assert (first.cost, again.cost, other.cost) == (10, 0, 10)
    assert await balance_of(sessionmaker, 7) == 80
    async with sessionmaker() as session:
        assert await ledger.reconcile(session) == []
        refs = (
            await session.scalars(
                select(CreditMovement.ref).where(
                    CreditMovement.user_id == 7, CreditMovement.kind == MovementKind.USAGE
                )
            )
        ).all()
    assert len(refs) == 2
    # keyed hashes: the ledger, kept for the account's life, names no chat or message
    assert all(re.fullmatch(r"prompt:[0-9a-f]{64}", ref or "") for ref in refs)


async def test_a_prompt_handled_twice_uses_the_allowance_once(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.default = Reply("ten tokens", input_tokens=20, output_tokens=100)
    ai = service(sessionmaker, fake, tmp_path, free_daily_credits=30)
    await new_user(sessionmaker, 8, 0)
    prompt = ChatRequest(8, 8, "hi", private=True, message_id=5)
    try:
        first = await ai.reply(prompt, NullSender(), UI)
        again = await ai.reply(prompt, NullSender(), UI)
    finally:
        await ai.aclose()
    assert (first.outcome, again.outcome) == (Outcome.OK, Outcome.OK)
    async with sessionmaker() as session:
        used = await session.scalar(select(AIAllowance.used).where(AIAllowance.user_id == 8))
        assert await ledger.reconcile(session) == []
    assert used == 10
    assert await balance_of(sessionmaker, 8) == 0
