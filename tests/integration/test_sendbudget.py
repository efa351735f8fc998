"""The one send budget: its windows (in memory and in real Redis), priorities, sharing across
instances, and the aiogram request middleware against the Bot API emulator (flood limits on)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from redis.asyncio import Redis

from bot.sendbudget import SendBudgetMiddleware
from services.sendbudget import (
    MemoryStore,
    Priority,
    RedisStore,
    SendBudget,
    SendBudgetSettings,
    Shed,
    send_priority,
)
from services.sendbudget.budget import Store, Window
from tests.emulator.limits import Fault
from tests.emulator.server import BotAPIEmulator
from tests.harness import eventually


@pytest.fixture
async def redis(real_redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(real_redis_url)
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def make_store(
    request: pytest.FixtureRequest, real_redis_url: str, kv_prefix: str
) -> AsyncIterator[Callable[[], Store]]:
    """Stores that share one budget: the same dict in memory, or the same Redis prefix."""
    clients: list[Redis] = []
    memory = MemoryStore()

    def make() -> Store:
        if request.param == "memory":
            return memory
        client = Redis.from_url(real_redis_url)
        clients.append(client)
        return RedisStore(client, kv_prefix)

    yield make
    for client in clients:
        await client.aclose()


def busiest_window(times: list[float], seconds: float) -> int:
    ordered = sorted(times)
    return max(
        (sum(1 for t in ordered if start <= t < start + seconds) for start in ordered), default=0
    )


async def test_a_chat_window_fills_then_says_how_long_to_wait(
    make_store: Callable[[], Store],
) -> None:
    store = make_store()
    chat, everyone = Window(3, 3.0), Window(100, 1.0)
    for n in range(3):
        assert (await store.take("7", chat, everyone, f"m{n}", 60)).wait == 0
        await store.done("7", f"m{n}")
    assert await store.free("7", chat, everyone) == 0
    verdict = await store.take("7", chat, everyone, "m3", 60)
    assert 2.0 < verdict.wait <= 3.0
    assert not verdict.global_full
    assert (await store.take("8", chat, everyone, "other", 60)).wait == 0  # another chat


async def test_a_private_chat_has_a_burst_then_about_one_a_second(
    make_store: Callable[[], Store],
) -> None:
    store = make_store()
    chat, everyone = Window(3, 1.0, bucket=True), Window(100, 1.0)
    assert await store.free("5", chat, everyone) == 3
    for n in range(3):
        assert (await store.take("5", chat, everyone, f"m{n}", 60)).wait == 0
    assert await store.free("5", chat, everyone) == 0
    verdict = await store.take("5", chat, everyone, "m3", 60)
    assert 0.5 < verdict.wait <= 1.0  # one more after a second, not after the whole burst
    assert not verdict.global_full
    assert await store.free("6", chat, everyone) == 3


async def test_a_slot_in_flight_counts_until_it_is_done(make_store: Callable[[], Store]) -> None:
    store = make_store()
    chat, everyone = Window(100, 1.0), Window(1, 0.05)
    assert (await store.take("1", chat, everyone, "a", 60)).wait == 0
    await asyncio.sleep(0.1)  # longer than the window: still in flight, still counted
    verdict = await store.take("2", chat, everyone, "b", 60)
    assert verdict.wait > 0
    assert verdict.global_full
    await store.done("1", "a")
    await asyncio.sleep(0.1)
    assert (await store.take("2", chat, everyone, "b", 60)).wait == 0


async def test_a_block_holds_the_chat_and_only_grows(make_store: Callable[[], Store]) -> None:
    store = make_store()
    chat, everyone = Window(100, 1.0), Window(100, 1.0)
    await store.block("9", 30)
    await store.block("9", 1)  # a shorter retry_after never shortens the wait
    verdict = await store.take("9", chat, everyone, "x", 60)
    assert verdict.wait > 20
    assert await store.free("9", chat, everyone) == 0
    assert (await store.take("10", chat, everyone, "y", 60)).wait == 0


async def test_two_budgets_on_one_store_never_exceed_the_global_limit(
    make_store: Callable[[], Store],
) -> None:
    # Two instances (two budgets, and for Redis two connections) share one window of 5 a second;
    # the margin absorbs the delay between a grant and this test noting it.
    settings = SendBudgetSettings(global_per_second=5, margin=0.5, private_burst=100)
    budgets = [SendBudget(settings, make_store()), SendBudget(settings, make_store())]
    granted: list[float] = []

    async def send(budget: SendBudget, chat: int) -> None:
        ticket = await budget.acquire(chat, Priority.HIGH)
        granted.append(time.monotonic())
        await budget.release(ticket)

    await asyncio.gather(*(send(budgets[n % 2], 1000 + n) for n in range(16)))
    assert len(granted) == 16
    assert busiest_window(granted, 1.0) <= 5


async def test_priority_traffic_is_served_before_bulk_that_waited_longer() -> None:
    settings = SendBudgetSettings(global_per_second=2, margin=0.5, bulk_share=1.0, draft_share=1.0)
    budget = SendBudget(settings, MemoryStore())
    for chat in (1, 2):  # fill the global window
        await budget.release(await budget.acquire(chat, Priority.HIGH))
    order: list[str] = []

    async def send(name: str, chat: int, priority: Priority) -> None:
        await budget.release(await budget.acquire(chat, priority))
        order.append(name)

    tasks = [asyncio.create_task(send(f"bulk{n}", 10 + n, Priority.BULK)) for n in range(3)]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(send("reply", 20, Priority.HIGH)))
    tasks.append(asyncio.create_task(send("draft", 21, Priority.DRAFT)))
    await asyncio.gather(*tasks)
    assert order[:2] == ["reply", "draft"]
    assert sorted(order[2:]) == ["bulk0", "bulk1", "bulk2"]


async def test_bulk_leaves_part_of_the_global_window_to_priority_traffic() -> None:
    settings = SendBudgetSettings(global_per_second=10, bulk_share=0.5, margin=5.0)
    budget = SendBudget(settings, MemoryStore())
    for chat in range(5):
        await budget.release(await budget.acquire(100 + chat, Priority.BULK))
    assert await budget.free(200, Priority.BULK) == 0
    waiting = asyncio.create_task(budget.acquire(300, Priority.BULK))
    # the sixth bulk message waits, a reply does not
    await asyncio.wait_for(budget.acquire(400, Priority.HIGH), 5)
    assert not waiting.done()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert budget.waiting == 0


async def test_a_stopping_worker_sheds_only_its_own_waiting_calls() -> None:
    settings = SendBudgetSettings(group_per_minute=1)
    budget = SendBudget(settings, MemoryStore())
    group = -1001
    await budget.release(await budget.acquire(group, Priority.BULK))  # the minute is used up

    async def send() -> str:
        await budget.release(await budget.acquire(group, Priority.BULK))
        return "sent"

    mine = asyncio.create_task(send())
    theirs = asyncio.create_task(send())
    await eventually(lambda: budget.waiting == 2, what="both calls queued")
    assert budget.shed([mine]) == 1
    with pytest.raises(Shed):
        await mine
    assert not theirs.done()  # another worker's call keeps its place
    assert budget.waiting == 1
    # a shed task that asks again (after a 429, say) is refused at once, without queueing
    again = asyncio.create_task(send())
    budget.shed([again])
    with pytest.raises(Shed):
        await again
    theirs.cancel()
    with pytest.raises(asyncio.CancelledError):
        await theirs
    assert budget.waiting == 0


async def test_priority_follows_the_callers_context() -> None:
    budget = SendBudget(SendBudgetSettings(), MemoryStore())
    seen: list[int] = []

    class Recording(MemoryStore):
        async def take(self, chat: str, chat_window: Window, *args: Any) -> Any:
            seen.append(args[0].limit)  # the global limit asked for tells the priority
            return await super().take(chat, chat_window, *args)

    budget.store = Recording()
    await budget.acquire(1)
    with send_priority(Priority.BULK):
        await budget.acquire(2)
    assert seen == [30, 21]


async def test_without_redis_the_limits_hold_per_process() -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    settings = SendBudgetSettings(global_per_second=3, margin=0.5)
    budget = SendBudget(settings, RedisStore(down, "x:"))
    granted: list[float] = []

    async def send(chat: int) -> None:
        ticket = await budget.acquire(chat)
        granted.append(time.monotonic())
        await budget.release(ticket)

    try:
        await asyncio.wait_for(asyncio.gather(*(send(1000 + n) for n in range(6))), 30)
    finally:
        await down.aclose()
    assert len(granted) == 6
    assert busiest_window(granted, 1.0) <= 3


# -- the middleware, against the emulator -------------------------------------------------------


def budget_bot(emulator: BotAPIEmulator, budget: SendBudget) -> Bot:
    bot = emulator.make_bot(timeout=10)
    bot.session.middleware(SendBudgetMiddleware(budget))
    return bot


async def test_a_429_is_waited_out_and_the_message_sent_once(emulator: BotAPIEmulator) -> None:
    user = emulator.create_user("Ann", started_bot=True)
    emulator.faults.schedule("sendMessage", [429, 429], chat_id=user.id)
    budget = SendBudget(SendBudgetSettings(), MemoryStore())
    bot = budget_bot(emulator, budget)
    try:
        await bot.send_message(user.id, "receipt")
    finally:
        await bot.session.close()
    assert [c.fault for c in emulator.calls_to("sendMessage")] == [
        "error 429",
        "error 429",
        None,
    ]
    assert [m.text for m in emulator.messages(user.chat, from_bot=True)] == ["receipt"]
    assert budget.stats.retried == 2


async def test_a_429_past_the_longest_wait_goes_to_the_caller(emulator: BotAPIEmulator) -> None:
    user = emulator.create_user("Ben", started_bot=True)
    emulator.faults.schedule("sendMessage", [Fault(code=429, retry_after=5)], chat_id=user.id)
    budget = SendBudget(SendBudgetSettings(max_retry_wait=2), MemoryStore())
    bot = budget_bot(emulator, budget)
    try:
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(user.id, "late")
    finally:
        await bot.session.close()
    assert budget.stats.gave_up == 1


async def test_two_instances_on_one_redis_draw_no_429(
    emulator: BotAPIEmulator, real_redis_url: str, kv_prefix: str
) -> None:
    emulator.limits.enabled = True  # 30 a second overall, about 1 a second per private chat
    users = [emulator.create_user(f"U{n}", started_bot=True) for n in range(20)]
    clients = [Redis.from_url(real_redis_url), Redis.from_url(real_redis_url)]
    settings = SendBudgetSettings()
    bots = [
        budget_bot(emulator, SendBudget(settings, RedisStore(c, kv_prefix, b"token")))
        for c in clients
    ]
    try:
        # 80 messages, 4 to each user, half from each instance: twice the global limit and
        # beyond every private chat's burst
        await asyncio.gather(
            *(bots[n % 2].send_message(users[n % 20].id, f"m{n}") for n in range(80))
        )
    finally:
        for bot in bots:
            await bot.session.close()
        for client in clients:
            await client.aclose()
    assert not emulator.errors(429)
    assert len(emulator.calls_to("sendMessage", ok=True)) == 80
