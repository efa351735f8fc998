"""The ban middleware's rules for updates the end-to-end tests do not send."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram.types import Chat, Message, SuccessfulPayment, TelegramObject, Update
from aiogram.types import User as TgUser
from pydantic import SecretStr

from bot.db.models import User, UserStatus
from bot.i18n import Translator
from bot.settings import Settings
from middlewares.ban import BanMiddleware
from middlewares.users import UserSnapshot

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def settings(*admins: int) -> Settings:
    return Settings(_env_file=None, bot_token=SecretStr("1:x"), admin_ids=frozenset(admins))


def message(chat_type: str, **extra: Any) -> Message:
    return Message(
        message_id=1,
        date=NOW,
        chat=Chat(id=-100 if chat_type != "private" else 7, type=chat_type),
        from_user=TgUser(id=7, is_bot=False, first_name="B"),
        **extra,
    )


async def run(update: Update, user: User, admins: tuple[int, ...] = ()) -> bool:
    called: list[TelegramObject] = []

    async def handler(event: TelegramObject, data: dict[str, Any]) -> None:
        called.append(event)

    account = UserSnapshot(
        id=user.id,
        locale=None,
        status=user.status,
        created_at=NOW,
        last_seen_at=NOW,
        username_hash=None,
    )
    data: dict[str, Any] = {"account": account, "i18n": Translator().for_locale("ja")}
    await BanMiddleware(settings(*admins))(handler, update, data)
    return bool(called)


def banned() -> User:
    return User(id=7, status=UserStatus.BANNED)


async def test_group_and_edited_messages_of_a_banned_user_are_dropped_silently() -> None:
    assert not await run(Update(update_id=1, message=message("supergroup", text="hi")), banned())
    assert not await run(
        Update(update_id=2, edited_message=message("private", text="hi", edit_date=1)), banned()
    )


async def test_a_completed_payment_is_still_recorded() -> None:
    paid = SuccessfulPayment(
        currency="XTR",
        total_amount=50,
        invoice_payload="p",
        telegram_payment_charge_id="c",
        provider_payment_charge_id="",
    )
    assert await run(
        Update(update_id=3, message=message("private", successful_payment=paid)), banned()
    )


@pytest.mark.parametrize("status", [UserStatus.ACTIVE, UserStatus.BLOCKED_BOT])
async def test_users_not_banned_pass(status: UserStatus) -> None:
    user = User(id=7, status=status)
    assert await run(Update(update_id=4, message=message("supergroup", text="hi")), user)


async def test_a_listed_operator_cannot_lock_themselves_out() -> None:
    assert await run(
        Update(update_id=5, message=message("supergroup", text="hi")), banned(), admins=(7,)
    )
