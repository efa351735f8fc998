"""Issue 18: the bot in a group, in Japanese and English. It introduces itself once when added;
`/start` and `/help` say how it works there; the private-chat commands and an unknown command
addressed to it point to the private chat with a button; commands for other bots get nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.app import Application
from bot.settings import Settings
from tests.emulator.actors import UserActor
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import Chat, StoredMessage
from tests.harness import run_bot

LANGS = pytest.mark.parametrize("lang", ["ja", "en"])

TEXTS = {
    "ja": {
        "hello": "AI アシスタントの Libral です",
        "room": "AI ルーム",
        "help": "グループでの Libral",
        "private": "は個人チャットで使えます",
        "unknown": "というコマンドはありません",
        "button": "💬 個人チャットを開く",
    },
    "en": {
        "hello": "I'm Libral, an AI assistant",
        "room": "AI room",
        "help": "Libral in a group",
        "private": "works in our private chat",
        "unknown": "There is no command",
        "button": "💬 Open the private chat",
    },
}


@pytest.fixture
async def app(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> AsyncIterator[Application]:
    async with run_bot(emulator, make_settings()) as running:
        yield running


def handled(app: Application) -> int:
    return app.metrics.update_counts().get("message", 0)


async def reply_to(user: UserActor, group: Chat, text: str) -> StoredMessage:
    sent = await user.send_text(text, chat=group)
    return await user.wait_reply(timeout=10, chat=group, after=sent)


def private_button(emulator: BotAPIEmulator, message: StoredMessage, label: str) -> None:
    [button] = message.inline_buttons
    assert button["text"] == label
    assert button["url"] == f"https://t.me/{emulator.bot_user.username}?start=help"


async def added_group(emulator: BotAPIEmulator, lang: str) -> tuple[UserActor, Chat]:
    owner = emulator.create_user(f"Owner-{lang}", language_code=lang)
    group = emulator.create_group(owner, f"Team {lang}")
    await owner.add_bot_to_group(group)
    return owner, group


@LANGS
async def test_the_bot_introduces_itself_once_when_added(
    app: Application, emulator: BotAPIEmulator, lang: str
) -> None:
    text = TEXTS[lang]
    before = app.metrics.update_counts()
    _, group = await added_group(emulator, lang)
    hello = await emulator.wait_for(lambda m: m.from_bot, timeout=10, chat=group)
    assert text["hello"] in (hello.text or "")
    assert f"@{emulator.bot_user.username}" in (hello.text or "")
    assert text["room"] in (hello.text or "")  # the room offer is part of the same message
    # Both updates of the arrival (my_chat_member and the new_chat_members message) are done:
    counts = before.get("my_chat_member", 0) + 1, before.get("message", 0) + 1
    await emulator.wait_until(
        lambda: (
            (
                app.metrics.update_counts().get("my_chat_member", 0),
                handled(app),
            )
            >= counts
        ),
        timeout=10,
        what="the arrival handled",
    )
    assert len(emulator.messages(group, from_bot=True)) == 1


@LANGS
async def test_commands_in_a_group_answer_there_or_point_to_the_private_chat(
    app: Application, emulator: BotAPIEmulator, lang: str
) -> None:
    text = TEXTS[lang]
    owner, group = await added_group(emulator, lang)
    await emulator.wait_for(lambda m: m.from_bot, timeout=10, chat=group)
    bot = emulator.bot_user.username

    for command in ("/start", "/help", f"/help@{bot}"):
        answer = await reply_to(owner, group, command)
        assert text["help"] in (answer.text or ""), command
        private_button(emulator, answer, text["button"])

    for command in ("/balance", f"/language@{bot}", "/usage", "/forget"):
        answer = await reply_to(owner, group, command)
        shown = command.split("@")[0]
        assert f"{shown} {text['private']}" in (answer.text or ""), answer.text
        private_button(emulator, answer, text["button"])
        # nothing personal in the group: no balance, no language picker
        assert all("callback_data" not in b for b in answer.inline_buttons)

    answer = await reply_to(owner, group, f"/frobnicate@{bot} now")
    assert text["unknown"] in (answer.text or "")
    assert "/frobnicate" in (answer.text or "")
    private_button(emulator, answer, text["button"])


async def test_commands_for_other_bots_or_unaddressed_unknown_ones_get_no_answer(
    app: Application, emulator: BotAPIEmulator
) -> None:
    owner, group = await added_group(emulator, "en")
    await emulator.wait_for(lambda m: m.from_bot, timeout=10, chat=group)
    answered = len(emulator.messages(group, from_bot=True))
    start = handled(app)
    for command in ("/help@other_bot", "/balance@other_bot", "/frobnicate", "/weather@other_bot"):
        await owner.send_text(command, chat=group)
    await emulator.wait_until(lambda: handled(app) >= start + 4, timeout=10, what="handled")
    assert len(emulator.messages(group, from_bot=True)) == answered


async def test_the_private_chat_button_leads_to_the_greeting(
    app: Application, emulator: BotAPIEmulator
) -> None:
    # The deep link opens the private chat with `/start help`: the ordinary first contact.
    user = emulator.create_user("Mika", language_code="en")
    sent = await user.send_text("/start help")
    greeting = await user.wait_reply(after=sent)
    assert "Welcome to Libral" in (greeting.text or "")


async def test_a_key_in_a_group_where_the_bot_may_not_delete_is_not_tried(
    app: Application, emulator: BotAPIEmulator
) -> None:
    # A plain member may not delete others' messages: the bot asks its own rights first instead
    # of sending a deletion Telegram refuses, and says the key is still there.
    owner, group = await added_group(emulator, "en")
    await emulator.wait_for(lambda m: m.from_bot, timeout=10, chat=group)
    answer = await reply_to(owner, group, "/apikey sk-proj-abcdefghijklmnopqrstuvwxyz012345")
    assert "could not delete the message" in (answer.text or "")
    assert emulator.calls_to("getChatMember", ok=True)
    assert emulator.calls_to("deleteMessage") == []
