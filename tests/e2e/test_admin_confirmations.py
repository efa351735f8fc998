"""The admin panel's confirmations through aiogram's routing: a confirm button is taken only by
the handler of its own kind, with the nonce of the step pending, once; anything else is stale
and changes nothing. And FSM data the panel cannot read starts the panel afresh."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.engine import create_sessionmaker
from bot.db.models import UserStatus
from bot.db.models.admin import AuditEvent
from bot.settings import Settings
from handlers.admin.panel import PanelData, PendingBan
from keyboards.admin import AdminAction, AdminCD, Confirm
from tests.e2e.test_admin import ADMIN_ID, db_user, open_panel, plain
from tests.emulator.server import BotAPIEmulator
from tests.harness import run_bot


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        admin_ids=frozenset({ADMIN_ID}), throttle_rate=1000.0, throttle_burst=100_000
    )


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


async def test_a_confirmation_of_another_kind_or_nonce_is_stale_and_does_nothing(
    emulator: BotAPIEmulator,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with run_bot(emulator, settings):
        target = emulator.create_user("Taro", language_code="ja")
        await target.send_text("/start")
        await target.wait_reply()
        admin = emulator.create_user("Ops", language_code="en", user_id=ADMIN_ID)
        panel = await open_panel(emulator, admin, "en")
        await panel.press("admin-btn-users")
        await panel.reply(str(target.id))
        await emulator.wait_until(lambda: str(target.id) in panel.text, what="card")
        await panel.press("admin-btn-ban")
        await panel.shows("admin-confirm-ban", id=str(target.id))
        confirm = panel.current.button(text=panel.label("admin-btn-confirm"))["callback_data"]
        pending = AdminCD.unpack(confirm)
        assert pending.action is AdminAction.CONFIRM
        assert pending.arg == Confirm.BAN
        confirm_markup = panel.current.reply_markup
        forged = [
            # the right nonce on the confirm button of another kind (a refund, a purge)
            AdminCD(action=AdminAction.CONFIRM, arg=Confirm.REFUND, ref=pending.ref),
            AdminCD(action=AdminAction.CONFIRM, arg=Confirm.PURGE, ref=pending.ref),
            # a kind nobody handles, and the right kind with another nonce
            AdminCD(action=AdminAction.CONFIRM, arg=0, ref=pending.ref),
            AdminCD(action=AdminAction.CONFIRM, arg=Confirm.BAN, ref="guess"),
        ]
        for cd in forged:
            panel.current.reply_markup = {
                "inline_keyboard": [[{"text": "forged", "callback_data": cd.pack()}]]
            }
            press = await admin.press(panel.current, text="forged")
            assert press.answer is not None
            assert press.answer.text == plain("en", "admin-confirm-stale"), cd
        # None of them spent the pending ban: the real button still does it, once.
        panel.current.reply_markup = confirm_markup
        await panel.press("admin-btn-confirm")
        await panel.shows("admin-banned")
        panel.current.reply_markup = {
            "inline_keyboard": [[{"text": "again", "callback_data": confirm}]]
        }
        again = await admin.press(panel.current, text="again")
        assert again.answer is not None
        assert again.answer.text == plain("en", "admin-confirm-stale")
    assert (await db_user(sessions, target.id)).status is UserStatus.BANNED
    async with sessions() as s:
        actions = list((await s.scalars(select(AuditEvent.action))).all())
    assert actions.count("ban") == 1
    assert "refund" not in actions
    assert "purge" not in actions


async def test_another_press_drops_a_pending_confirmation(
    emulator: BotAPIEmulator,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with run_bot(emulator, settings):
        target = emulator.create_user("Jiro", language_code="ja")
        await target.send_text("/start")
        await target.wait_reply()
        admin = emulator.create_user("Ops", language_code="ja", user_id=ADMIN_ID)
        panel = await open_panel(emulator, admin, "ja")
        await panel.press("admin-btn-users")
        await panel.reply(str(target.id))
        await emulator.wait_until(lambda: str(target.id) in panel.text, what="card")
        await panel.press("admin-btn-ban")
        confirm = panel.current.button(text=panel.label("admin-btn-confirm"))["callback_data"]
        await panel.press("admin-btn-cancel")
        await panel.shows("admin-status-active")
        # The old confirm button, pressed after the cancel: nothing is pending any more.
        panel.current.reply_markup = {
            "inline_keyboard": [[{"text": "old", "callback_data": confirm}]]
        }
        old = await admin.press(panel.current, text="old")
        assert old.answer is not None
        assert old.answer.text == plain("ja", "admin-confirm-stale")
    assert (await db_user(sessions, target.id)).status is UserStatus.ACTIVE


async def test_panel_data_round_trips_and_unreadable_data_starts_afresh() -> None:
    state = FSMContext(MemoryStorage(), StorageKey(bot_id=1, chat_id=2, user_id=2))
    data = PanelData(panel=7, draft="<b>news</b>", pending=PendingBan(target=5))
    await data.save(state)
    assert await PanelData.load(state) == data
    await state.set_data({"panel": "not a message id", "pending": {"kind": 99}})
    assert await PanelData.load(state) == PanelData()
