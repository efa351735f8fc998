"""Per-update context: who sent it and in which language to answer, then a database session and
the `User` row only for the handlers that ask for them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.enums import ChatType
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TgUser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.transactions import TransactionGuard, handler_name, handling, has_pending_writes
from bot.i18n import Translator
from middlewares.data import put, view
from middlewares.users import UserDirectory

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def _started_the_bot(update: Update) -> bool:
    """Updates only a user who started the bot can send: the ones that register a row.

    A private chat with the bot exists only after /start, and a pre-checkout is for an invoice we
    sent. Group messages, membership changes and inline queries register no one.
    """
    if update.message is not None:
        return update.message.chat.type == ChatType.PRIVATE
    if update.callback_query is not None:
        message = update.callback_query.message
        return message is not None and message.chat.type == ChatType.PRIVATE
    return update.pre_checkout_query is not None


def _is_money(update: Update) -> bool:
    message = update.message
    if message is not None and (message.successful_payment or message.refunded_payment):
        return True
    return update.pre_checkout_query is not None


class UserContextMiddleware(BaseMiddleware):
    """The sender's snapshot (cached; see `UserDirectory`) and the language to answer in.

    The stored choice first, then the Telegram app's language, then the default (ja). Registers
    the sender when the update shows they started the bot, and records "last seen" at most every
    few minutes, each in its own short transaction.
    """

    def __init__(self, directory: UserDirectory, translator: Translator) -> None:
        self.directory = directory
        self.translator = translator

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        tg_user: TgUser | None = data.get("event_from_user")
        snapshot = None
        if tg_user is not None and not tg_user.is_bot:
            # The language the bot speaks to them until they choose one, stored with the row.
            derived = self.translator.resolve_locale(tg_user.language_code)
            snapshot = await self.directory.get(tg_user.id, fresh=_is_money(event))
            if snapshot is None:
                if _started_the_bot(event):
                    snapshot = await self.directory.register(tg_user.id, tg_user.username, derived)
            elif self.directory.seen_due(snapshot, tg_user.username, derived):
                snapshot = await self.directory.seen(tg_user.id, tg_user.username, derived)
            if snapshot is not None:
                put(data, account=snapshot)
        locale = self.translator.resolve_locale(
            snapshot.locale if snapshot else None, tg_user.language_code if tg_user else None
        )
        put(data, i18n=self.translator.for_locale(locale))
        return await handler(event, data)


def _wants(handler: HandlerObject | None, name: str) -> bool:
    if handler is None:
        return True
    return handler.varkw or name in handler.params


class SessionMiddleware(BaseMiddleware):
    """An inner middleware: runs after the filters chose a handler, and opens a session (and loads
    the `User` row in it) only when that handler declares `session` or `user`. A sender without
    a row is registered here: a handler that uses the database acts for them.

    It provides the session and never commits: the service that changes state commits its own
    transaction before the handler tells the user (docs/architecture.md, "Transactions").
    Writes a handler leaves uncommitted are rolled back and reported to the guard,
    so a forgotten commit fails the tests instead of being saved behind the handler's back. A
    session nobody used costs nothing (no connection is checked out until the first query).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        directory: UserDirectory,
        guard: TransactionGuard,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.directory = directory
        self.guard = guard

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        chosen: HandlerObject | None = data.get("handler")
        wants_user = _wants(chosen, "user")
        if not wants_user and not _wants(chosen, "session"):
            return await handler(event, data)
        tg_user: TgUser | None = data.get("event_from_user")
        if tg_user is not None and not tg_user.is_bot and view(data).get("account") is None:
            # The bot does something for this sender, and what it stores may refer to them
            # (room turns, roles, spend): register them first, in a transaction of its own.
            # Without a row there is no chosen language: the one in use is the derived one.
            i18n = view(data).get("i18n")
            derived = i18n.locale if i18n is not None else None
            put(
                data,
                account=await self.directory.register(tg_user.id, tg_user.username, derived),
            )
        name = handler_name(chosen.callback) if chosen is not None else "?"
        async with self.sessionmaker() as session:
            put(data, session=session)
            with handling(session, name):
                if wants_user and tg_user is not None and not tg_user.is_bot:
                    user = await self.directory.load(session, tg_user.id, tg_user.username)
                    put(data, user=user)
                result = await handler(event, data)
            if has_pending_writes(session):
                await session.rollback()
                self.guard.left_uncommitted(name)
            return result


class ToldAfterCommit(BaseRequestMiddleware):
    """A Bot session middleware: every Bot API call made while an update is handled finds that
    update's session without uncommitted writes, or the guard hears of it. Observes only."""

    def __init__(self, guard: TransactionGuard) -> None:
        self.guard = guard

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        self.guard.told_before_commit(type(method).__name__)
        return await make_request(bot, method)


def peek_locale(directory: UserDirectory, translator: Translator, data: dict[str, Any]) -> str:
    """The answer language before the context middleware ran, without a query."""
    tg_user: TgUser | None = data.get("event_from_user")
    snapshot = directory.peek(tg_user.id) if tg_user is not None else None
    i18n = view(data).get("i18n")
    if i18n is not None:
        return i18n.locale
    return translator.resolve_locale(
        snapshot.locale if snapshot else None, tg_user.language_code if tg_user else None
    )
