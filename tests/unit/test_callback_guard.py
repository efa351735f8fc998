"""The one parse-and-validate step for button presses (middlewares/callbacks.py)."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

import keyboards
from keyboards import CALLBACK_DATA
from keyboards.admin import AdminAction, AdminCD
from keyboards.chat import ChatAction, ChatCD
from keyboards.retention import ForgetAction, ForgetCD
from middlewares.callbacks import CallbackGuard, carries_button, parse


def _all_callback_data() -> set[type[CallbackData]]:
    for module in pkgutil.iter_modules(keyboards.__path__):
        importlib.import_module(f"keyboards.{module.name}")
    found: set[type[CallbackData]] = set()
    pending = list(CallbackData.__subclasses__())
    while pending:
        family = pending.pop()
        if family.__module__.startswith("keyboards."):
            found.add(family)
        pending.extend(family.__subclasses__())
    return found


def test_every_callback_data_class_is_guarded() -> None:
    assert _all_callback_data() == set(CALLBACK_DATA)
    prefixes = [family.__prefix__ for family in CALLBACK_DATA]
    assert len(prefixes) == len(set(prefixes))


def test_valid_data_parses() -> None:
    packed = AdminCD(action=AdminAction.CARD, arg=5, ref="x").pack()
    assert parse(AdminCD, packed) == AdminCD(action=AdminAction.CARD, arg=5, ref="x")
    assert parse(ForgetCD, ForgetCD(action=ForgetAction.CONFIRM, nonce="Ab-9_x").pack())


def test_malformed_data_is_refused() -> None:
    # an id beyond PostgreSQL's bigint, non-ASCII where a nonce or an Enum is expected,
    # a superscript digit that str.isdigit() accepts but int() refuses, garbage
    assert parse(AdminCD, "adm1:c:99999999999999999999:") is None
    assert parse(AdminCD, "adm1:c:-99999999999999999999:") is None
    assert parse(ForgetCD, "fgt1:ok:ü") is None
    assert parse(ForgetCD, "fgt1:ü:x") is None
    assert parse(ChatCD, f"ai1:{ChatAction.STOP.value}:²") is None
    assert parse(AdminCD, "adm1:c:abc:") is None
    assert parse(AdminCD, "adm1") is None
    assert parse(AdminCD, "adm1:c:1:x\x00") is None


def test_the_press_must_come_from_the_message_with_that_button() -> None:
    from aiogram.types import Chat, Message

    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Delete", callback_data="fgt1:ok:abc")]]
    )
    chat = Chat(id=1, type="private")
    epoch = datetime.fromtimestamp(0, UTC)
    with_button = Message(message_id=1, date=epoch, chat=chat, reply_markup=markup)
    other = Message(message_id=2, date=epoch, chat=chat)
    assert carries_button(with_button, "fgt1:ok:abc")
    assert not carries_button(with_button, "fgt1:no:abc")
    assert not carries_button(other, "fgt1:ok:abc")


def test_families_are_found_by_prefix() -> None:
    guard = CallbackGuard(CALLBACK_DATA)
    assert guard.family_of("adm1:c:1:") is AdminCD
    assert guard.family_of("fgt1:ok:x") is ForgetCD
    assert guard.family_of("menu0:gone:42") is None
    assert guard.family_of("adm10:c") is None
