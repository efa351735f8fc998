"""The operator's one panel message, its FSM states and its typed FSM data.

Amounts, targets, the broadcast draft and pending confirmations live here, on the server, never in
the callback data. A confirmation is single use: its nonce must come back with the confirm button
of its own kind, and any other press drops it.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.admin import AudienceKind
from bot.i18n import I18n
from bot.settings import Settings
from bot.state import KeyValueState
from keyboards import admin as kb
from keyboards.admin import AdminAction, AdminCD, Confirm
from services.admin.operations import Operations
from services.admin.service import AdminService

log = logging.getLogger(__name__)


class AdminStates(StatesGroup):
    """The prompts: the operator's next text message answers them."""

    lookup = State()
    amount = State()
    compose = State()
    days = State()


def _nonce() -> str:
    return secrets.token_urlsafe(8)


class _Pending(BaseModel):
    nonce: str = Field(default_factory=_nonce)


class PendingAmount(_Pending):
    kind: Literal[Confirm.AMOUNT] = Confirm.AMOUNT
    target: int
    amount: int
    grant: bool


class PendingBan(_Pending):
    kind: Literal[Confirm.BAN] = Confirm.BAN
    target: int


class PendingRefund(_Pending):
    kind: Literal[Confirm.REFUND] = Confirm.REFUND
    payment: int


class PendingBroadcast(_Pending):
    kind: Literal[Confirm.BROADCAST] = Confirm.BROADCAST
    audience: AudienceKind
    value: str | None


class PendingPurge(_Pending):
    kind: Literal[Confirm.PURGE] = Confirm.PURGE


Pending = Annotated[
    PendingAmount | PendingBan | PendingRefund | PendingBroadcast | PendingPurge,
    Field(discriminator="kind"),
]


class AmountPrompt(BaseModel):
    """Whose balance the amount prompt changes, and which way."""

    target: int
    grant: bool


class PanelData(BaseModel):
    """The admin panel's FSM data; read and written only through `load` and `save`."""

    model_config = ConfigDict(extra="ignore")

    panel: int | None = None  # the panel message, edited in place
    amount_for: AmountPrompt | None = None
    draft: str | None = None  # the broadcast text (HTML), between compose and confirm
    pending: Pending | None = None

    @classmethod
    async def load(cls, state: FSMContext) -> PanelData:
        try:
            return cls.model_validate(await state.get_data())
        except ValidationError:
            # Written by an older version, or by another feature: start the panel afresh.
            log.info("admin panel data unreadable; starting afresh")
            return cls()

    async def save(self, state: FSMContext) -> None:
        await state.set_data(self.model_dump(mode="json"))


@dataclass
class Panel:
    """One update in the admin panel: the operator, what the steps need, the panel message.

    Built by `gate.OperatorGate` once the operator's role is checked, and handed to the handler
    as `panel`; the screens take it whole.
    """

    session: AsyncSession
    operator: User
    ops: Operations  # the operator's steps, each committed before the panel shows it
    settings: Settings
    admin: AdminService
    kv: KeyValueState
    bot: Bot
    state: FSMContext
    i18n: I18n
    chat_id: int
    data: PanelData
    query: CallbackQuery | None = None
    answered: bool = False

    async def save(self) -> None:
        await self.data.save(self.state)

    async def show(self, body: str, markup: InlineKeyboardMarkup) -> None:
        """Edit the panel message in place (or send it anew when it is gone)."""
        if self.data.panel is not None:
            # An operator clicking faster than Telegram lets one chat be edited: the send
            # budget spaces the edits.
            try:
                await self.bot.edit_message_text(
                    text=body, chat_id=self.chat_id, message_id=self.data.panel, reply_markup=markup
                )
                return
            except TelegramBadRequest as exc:
                if "not modified" in str(exc):
                    return
                log.info("admin panel message could not be edited; sending a new one")
        sent = await self.bot.send_message(self.chat_id, body, reply_markup=markup)
        self.data.panel = sent.message_id
        await self.save()

    async def alert(self, body: str) -> None:
        if self.query is not None and not self.answered:
            self.answered = True
            await self.query.answer(body, show_alert=True)

    async def ask(self, prompt: State, body: str, markup: InlineKeyboardMarkup) -> None:
        """Show a prompt; the operator's next text message answers it."""
        await self.state.set_state(prompt)
        await self.save()
        await self.show(body, markup)

    async def confirm(self, pending: Pending, body: str, back: AdminAction, arg: int = 0) -> None:
        """Show a confirmation; the step waits in the FSM data under a fresh nonce."""
        await self.state.set_state(None)
        self.data.pending = pending
        await self.save()
        await self.show(body, kb.confirm(self.i18n, pending.kind, pending.nonce, back, arg))

    async def take(self, pressed: AdminCD) -> Pending | None:
        """The pending step this confirm button stands for, once; None (alerted) otherwise."""
        pending = self.data.pending
        if (
            pending is None
            or pending.kind != pressed.arg
            or not secrets.compare_digest(pending.nonce, pressed.ref)
        ):
            await self.alert(self.i18n("admin-confirm-stale"))
            return None
        # Single use: a second press of the same button finds nothing pending.
        self.data.pending = None
        await self.save()
        return pending
