"""AI chat keyboards: the buttons under replies, the model and persona pickers.

The "buy credits" buttons are the payments feature's own (`keyboards.payments`)."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import I18n
from services.ai.catalogue import ModelInfo, ProviderName


class ChatAction(enum.StrEnum):
    STOP = "s"
    EXCLUDE = "x"


class ChatCD(CallbackData, prefix="ai1"):
    action: ChatAction
    # the reply's draft id (stop) or exchange id (exclude): re-checked against the user server-side
    ref: str


class ModelAction(enum.StrEnum):
    PICK = "p"
    DEFAULT = "d"  # admins: make it everyone's default


class ModelCD(CallbackData, prefix="aim1"):
    action: ModelAction
    # index into the catalogue order (model ids can be longer than callback data allows)
    index: int


class PersonaCD(CallbackData, prefix="aip1"):
    persona: str


PROVIDER_LABELS = {
    ProviderName.OPENAI: "OpenAI",
    ProviderName.ANTHROPIC: "Anthropic",
    ProviderName.GEMINI: "Google Gemini",
}


def stop_keyboard(i18n: I18n, draft_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("chat-button-stop"),
        callback_data=ChatCD(action=ChatAction.STOP, ref=str(draft_id)),
    )
    return builder.as_markup()


def reply_keyboard(i18n: I18n, exchange: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("chat-button-exclude"),
        callback_data=ChatCD(action=ChatAction.EXCLUDE, ref=exchange),
    )
    return builder.as_markup()


def models_keyboard(
    i18n: I18n,
    models: list[ModelInfo],
    indexes: dict[str, int],
    current: str | None,
    *,
    compat_name: str,
    admin: bool = False,
) -> InlineKeyboardMarkup:
    """Buttons grouped by provider: a header row per provider, then its models two a row."""
    builder = InlineKeyboardBuilder()
    sizes: list[int] = []
    for provider in ProviderName:
        group = [m for m in models if m.provider is provider]
        if not group:
            continue
        label = PROVIDER_LABELS.get(provider, compat_name)
        builder.button(
            text=f"— {label} —",
            callback_data=ModelCD(action=ModelAction.PICK, index=indexes[group[0].id]),
        )
        sizes.append(1)
        for i, model in enumerate(group):
            mark = "✅ " if model.id == current else ""
            builder.button(
                text=f"{mark}{model.name}",
                callback_data=ModelCD(action=ModelAction.PICK, index=indexes[model.id]),
            )
            if i % 2 == 0:
                sizes.append(1)
            else:
                sizes[-1] = 2
    if admin and current is not None and current in indexes:
        builder.button(
            text=i18n("chat-model-button-default"),
            callback_data=ModelCD(action=ModelAction.DEFAULT, index=indexes[current]),
        )
        sizes.append(1)
    builder.adjust(*sizes)
    return builder.as_markup()


def alternatives_keyboard(
    models: list[ModelInfo], indexes: dict[str, int]
) -> InlineKeyboardMarkup | None:
    if not models:
        return None
    builder = InlineKeyboardBuilder()
    for model in models:
        builder.button(
            text=f"→ {model.name}",
            callback_data=ModelCD(action=ModelAction.PICK, index=indexes[model.id]),
        )
    builder.adjust(1)
    return builder.as_markup()


def personas_keyboard(
    i18n: I18n, persona_ids: list[str], current: str | None
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for pid in persona_ids:
        mark = "✅ " if pid == current else ""
        builder.button(
            text=mark + i18n(f"chat-persona-{pid}"), callback_data=PersonaCD(persona=pid)
        )
    builder.adjust(2)
    return builder.as_markup()
