"""The cheap update path: what an update costs, and the data it must never create or miss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import build, close
from bot.db.models import User
from bot.settings import Settings
from tests.emulator.server import BotAPIEmulator
from tests.harness import run_bot


async def rows(sessions: async_sessionmaker[AsyncSession], user_id: int) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).where(User.id == user_id)) or 0)


async def test_a_failing_handler_is_counted_in_libral_errors_total(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> None:
    async with run_bot(emulator, make_settings()) as app:
        errors = app.metrics.errors.labels("message")
        user = emulator.create_user("Err", language_code="en")
        sent = await user.send_text("/help")
        await user.wait_reply(after=sent)
        assert errors._value.get() == 0
        emulator.faults.schedule("sendMessage", [500])
        sent = await user.send_text("/help")
        apology = await user.wait_reply(after=sent)
        assert "something went wrong" in (apology.text or "")
        assert errors._value.get() == 1
        assert b"libral_errors_total" in app.metrics.render()


async def test_a_group_member_who_never_started_the_bot_gets_no_row(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> None:
    async with run_bot(emulator, make_settings()) as app:
        owner = emulator.create_user("Owner", language_code="en")
        member = emulator.create_user("Member", language_code="en")
        group = emulator.create_supergroup(owner, members=[member])
        await owner.add_bot_to_group(group)
        await member.send_text("hello everyone", chat=group)
        await member.send_text("/help", chat=group)
        await emulator.wait_until(lambda: emulator.updates.pending_count == 0, what="delivered")
        # A private message follows the group's in the same polling order: once it is answered,
        # the group messages have been handled.
        sent = await owner.send_text("/help")
        await owner.wait_reply(after=sent)
        assert await rows(app.sessionmaker, member.id) == 0
        # Writing to the bot in private registers: only someone who started the bot can.
        assert await rows(app.sessionmaker, owner.id) == 1
        sent = await member.send_text("/help")
        await member.wait_reply(after=sent)
        assert await rows(app.sessionmaker, member.id) == 1


async def test_a_cheap_command_from_a_known_user_costs_no_database_round_trip(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> None:
    async with run_bot(emulator, make_settings()) as app:
        user = emulator.create_user("Regular", language_code="en")
        sent = await user.send_text("/help")
        await user.wait_reply(after=sent)
        statements: list[str] = []

        def seen(*args: Any) -> None:
            statement = str(args[2])
            if "users" in statement:
                statements.append(statement)

        event.listen(app.engine.sync_engine, "before_cursor_execute", seen)
        try:
            for _ in range(3):
                sent = await user.send_text("/help")
                await user.wait_reply(after=sent)
            assert statements == []
            # A handler that asks for the user still gets it, loaded in its own session.
            sent = await user.send_text("/balance")
            balance = await user.wait_reply(after=sent)
            assert "credit" in (balance.text or "").lower()
            assert any("FROM users" in s for s in statements)
        finally:
            event.remove(app.engine.sync_engine, "before_cursor_execute", seen)


async def test_a_language_change_holds_at_once(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> None:
    async with run_bot(emulator, make_settings()) as app:
        user = emulator.create_user("Polyglot", language_code="en")
        sent = await user.send_text("/help")
        help_en = await user.wait_reply(after=sent)
        # Changed through the application's own sessions (an admin tool, another handler).
        async with app.sessionmaker() as session:
            row = await session.get(User, user.id)
            assert row is not None
            row.locale = "ja"
            await session.commit()
        sent = await user.send_text("/help")
        help_ja = await user.wait_reply(after=sent)
        assert help_ja.text != help_en.text
        assert app.translator.get("ja", "cmd-help") in (help_ja.text or "")


async def test_no_magic_filter_runs_in_a_thread(make_settings: Callable[..., Settings]) -> None:
    app = build(make_settings())
    await close(app)
    sync = [
        (router.name, name)
        for router in app.dispatcher.chain_tail
        for name, observer in router.observers.items()
        for handler in observer.handlers
        for item in handler.filters or ()
        if not item.awaitable
    ]
    assert sync == []
