"""The unit-of-work rule can fail: a handler that tells the user before its change is committed,
or leaves a change uncommitted, is caught (the harness then fails every e2e test that does it).

A small dispatcher with the application's own `SessionMiddleware` and `ToldAfterCommit`, a real
aiogram Bot over HTTP against the emulator, the real database."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from aiogram import Dispatcher, Router
from aiogram.filters import Command
from aiogram.types import Chat, Message, Update
from aiogram.types import User as TgUser
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db.engine import create_sessionmaker
from bot.db.models import User
from bot.db.transactions import TransactionGuard, UncommittedWrites, finish_reading
from middlewares.context import SessionMiddleware, ToldAfterCommit
from middlewares.users import UserDirectory
from tests.emulator.server import BotAPIEmulator
from tests.harness import assert_units_of_work

_ids = itertools.count(1)


async def _change(session: AsyncSession, user_id: int) -> None:
    user = await session.get(User, user_id)
    assert user is not None
    user.locale = "ja"


async def tell_first(message: Message, session: AsyncSession) -> None:
    """Wrong: the user hears of a change that is not stored yet."""
    await _change(session, message.chat.id)
    await message.answer("saved")
    await session.commit()


async def write_first(message: Message, session: AsyncSession) -> None:
    """Wrong: flushed (sent to the database) is not committed."""
    await _change(session, message.chat.id)
    await session.flush()
    await message.answer("saved")
    await session.commit()


async def forget_commit(message: Message, session: AsyncSession) -> None:
    """Wrong: nobody commits; the middleware rolls it back instead of saving it."""
    await _change(session, message.chat.id)


async def commit_first(message: Message, session: AsyncSession) -> None:
    """Right: committed (here, as a service would), then told."""
    await _change(session, message.chat.id)
    await session.commit()
    await message.answer("saved")


async def read_only(message: Message, session: AsyncSession) -> None:
    """Right: a read leaves nothing to commit, told while the transaction is open or not."""
    await session.scalar(select(User.locale).where(User.id == message.chat.id))
    await message.answer("read")
    await finish_reading(session)
    await message.answer("read again")


async def finish_reading_refuses_writes(message: Message, session: AsyncSession) -> None:
    await _change(session, message.chat.id)
    with pytest.raises(UncommittedWrites):
        await finish_reading(session)
    await session.rollback()
    await message.answer("refused")


def _dispatcher(engine: AsyncEngine, guard: TransactionGuard) -> Dispatcher:
    sessionmaker = create_sessionmaker(engine)
    dispatcher = Dispatcher()
    router = Router()
    for name, handler in (
        ("tell_first", tell_first),
        ("write_first", write_first),
        ("forget_commit", forget_commit),
        ("commit_first", commit_first),
        ("read_only", read_only),
        ("refuse", finish_reading_refuses_writes),
    ):
        router.message.register(handler, Command(name))
    router.message.middleware(SessionMiddleware(sessionmaker, UserDirectory(sessionmaker), guard))
    dispatcher.include_router(router)
    return dispatcher


def _command(chat_id: int, text: str) -> Update:
    tg_user = TgUser(id=chat_id, is_bot=False, first_name="U")
    number = next(_ids)
    return Update(
        update_id=number,
        message=Message(
            message_id=number,
            date=datetime.now(UTC),
            chat=Chat(id=chat_id, type="private"),
            from_user=tg_user,
            text=text,
        ),
    )


async def _locale(engine: AsyncEngine, user_id: int) -> str | None:
    async with create_sessionmaker(engine)() as session:
        return await session.scalar(select(User.locale).where(User.id == user_id))


@pytest.fixture
def guard() -> TransactionGuard:
    return TransactionGuard()


async def _run(
    emulator: BotAPIEmulator, engine: AsyncEngine, guard: TransactionGuard, text: str
) -> int:
    user = emulator.create_user("U", started_bot=True)
    bot = emulator.make_bot(timeout=5)
    bot.session.middleware(ToldAfterCommit(guard))
    try:
        await _dispatcher(engine, guard).feed_update(bot, _command(user.id, text))
    finally:
        await bot.session.close()
    return user.id


@pytest.mark.parametrize("command", ["/tell_first", "/write_first"])
async def test_telling_the_user_before_the_commit_is_a_violation(
    emulator: BotAPIEmulator, engine: AsyncEngine, guard: TransactionGuard, command: str
) -> None:
    user_id = await _run(emulator, engine, guard, command)
    assert [v.what for v in guard.violations] == [
        "SendMessage sent before its writes were committed"
    ]
    assert guard.violations[0].handler.endswith(command.removeprefix("/"))
    assert await _locale(engine, user_id) == "ja"  # committed after all, but too late
    with pytest.raises(AssertionError, match="1 unit-of-work violation"):
        assert_units_of_work(guard)


async def test_a_forgotten_commit_is_rolled_back_and_reported(
    emulator: BotAPIEmulator, engine: AsyncEngine, guard: TransactionGuard
) -> None:
    user_id = await _run(emulator, engine, guard, "/forget_commit")
    assert [v.what for v in guard.violations] == ["returned with uncommitted writes (rolled back)"]
    assert await _locale(engine, user_id) is None  # the middleware saved nothing behind its back


@pytest.mark.parametrize("command", ["/commit_first", "/read_only", "/refuse"])
async def test_committing_before_telling_or_only_reading_is_no_violation(
    emulator: BotAPIEmulator, engine: AsyncEngine, guard: TransactionGuard, command: str
) -> None:
    user_id = await _run(emulator, engine, guard, command)
    assert list(guard.violations) == []
    assert_units_of_work(guard)
    assert await _locale(engine, user_id) == ("ja" if command == "/commit_first" else None)
    assert emulator.messages(user_id), "the handler answered"
