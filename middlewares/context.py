"""Per-update context: one database session, the user row, the user's language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import User
from bot.i18n import Translator
from middlewares.data import put, view
from services import users

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
SeenHook = Callable[[AsyncSession, User, str | None], Awaitable[None]]

# Writing last_seen on every update would double the writes of a chatty user for no gain.
LAST_SEEN_RESOLUTION = timedelta(minutes=5)


class SessionMiddleware(BaseMiddleware):
    """One session per update, committed once when the handler succeeds, rolled back otherwise."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.sessionmaker() as session:
            put(data, session=session)
            result = await handler(event, data)
            await session.commit()
            return result


class UserMiddleware(BaseMiddleware):
    """Loads (or registers) the Telegram user behind the update."""

    def __init__(self, on_seen: SeenHook | None = None) -> None:
        # e.g. the admin panel's keyed username hash and daily activity count
        self.on_seen = on_seen

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        session = view(data).get("session")
        if tg_user is not None and not tg_user.is_bot and session is not None:
            user = await users.get_or_create(session, tg_user.id)
            if self.on_seen is not None:
                # Before `touch`, so the hook still sees when the user was last seen.
                await self.on_seen(session, user, tg_user.username)
            await users.touch(session, user, LAST_SEEN_RESOLUTION)
            put(data, user=user)
        return await handler(event, data)


class I18nMiddleware(BaseMiddleware):
    """The stored choice first, then the Telegram app's language, then the default (ja)."""

    def __init__(self, translator: Translator) -> None:
        self.translator = translator

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        user = view(data).get("user")
        locale = self.translator.resolve_locale(
            user.locale if user else None, tg_user.language_code if tg_user else None
        )
        put(data, i18n=self.translator.for_locale(locale))
        return await handler(event, data)
