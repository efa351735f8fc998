"""Keyboard builders and typed callback data, one module per feature.

`CALLBACK_DATA` lists every `CallbackData` class: the callback guard (middlewares/callbacks.py)
validates presses against it (tests/unit/test_callback_guard.py checks that none is missing).
"""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from keyboards.admin import AdminCD
from keyboards.chat import ChatCD, ModelCD, PersonaCD
from keyboards.concierge import ConciergeUserCD, DeskCD, StaffCD
from keyboards.language import LanguageCD
from keyboards.logserver import PanelCD, SetupCD
from keyboards.payments import PayCD
from keyboards.retention import ForgetCD
from keyboards.rooms import RoomAnswerCD, RoomPanelCD

CALLBACK_DATA: tuple[type[CallbackData], ...] = (
    AdminCD,
    ChatCD,
    ModelCD,
    PersonaCD,
    LanguageCD,
    PanelCD,
    SetupCD,
    PayCD,
    ForgetCD,
    RoomAnswerCD,
    RoomPanelCD,
    ConciergeUserCD,
    DeskCD,
    StaffCD,
)
