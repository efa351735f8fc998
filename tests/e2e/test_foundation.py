"""The foundation end to end: the real application against the Bot API emulator, in polling and
webhook mode, acting as users."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from bot.app import Application
from bot.settings import Settings
from tests.emulator.actors import UserActor
from tests.emulator.errors import bad_request
from tests.emulator.registry import Call
from tests.emulator.server import BotAPIEmulator
from tests.harness import Mode, eventually, run_bot

MODES: list[Mode] = ["polling", "webhook"]


@pytest.fixture(params=MODES)
async def app(
    request: pytest.FixtureRequest,
    emulator: BotAPIEmulator,
    make_settings: Callable[..., Settings],
) -> AsyncIterator[Application]:
    async with run_bot(emulator, make_settings(), request.param) as running:
        yield running


async def ask(user: UserActor, text: str) -> str:
    sent = await user.send_text(text)
    reply = await user.wait_reply(after=sent)
    assert reply.text is not None
    return reply.text


async def test_start_language_help_in_japanese_and_english(
    app: Application, emulator: BotAPIEmulator
) -> None:
    user = emulator.create_user("Aiko", language_code="ja")
    await user.send_text("/start")
    greeting = await user.wait_reply()
    assert "ようこそ" in (greeting.text or "")
    assert "Aiko" in (greeting.text or "")

    press = await user.press(greeting, text="English")
    assert press.answer is not None
    assert press.answer.text == "Switched to English."
    edited = emulator.chat(user.chat).messages[greeting.message_id]
    await emulator.wait_until(
        lambda: "The bot now speaks English" in (edited.text or ""), what="greeting edited"
    )

    help_en = await ask(user, "/help")
    assert "How to use Libral" in help_en
    assert "/language — Choose the language" in help_en

    prompt = await user.send_text("/language")
    picker = await user.wait_reply(after=prompt)
    await user.press(picker, text="日本語")
    help_ja = await ask(user, "/help")
    assert "使い方" in help_ja
    assert "/language — 言語を選ぶ" in help_ja


async def test_language_follows_the_telegram_app_until_chosen(
    app: Application, emulator: BotAPIEmulator
) -> None:
    english = emulator.create_user("Ann", language_code="en-GB")
    assert "How to use Libral" in await ask(english, "/help")
    unknown = emulator.create_user("Hans", language_code="de")
    assert "使い方" in await ask(unknown, "/help")


async def test_a_name_with_markup_is_shown_as_text(
    app: Application, emulator: BotAPIEmulator
) -> None:
    user = emulator.create_user("<b>Bob</b> & co", language_code="en")
    await user.send_text("/start")
    reply = await user.wait_reply()
    assert "<b>Bob</b> & co" in (reply.text or "")


async def test_expired_button_is_answered(app: Application, emulator: BotAPIEmulator) -> None:
    user = emulator.create_user("Ken", language_code="en")
    await user.send_text("/start")
    greeting = await user.wait_reply()
    # A keyboard from an older release: data no current handler understands.
    emulator.chat(user.chat).messages[greeting.message_id].reply_markup = {
        "inline_keyboard": [[{"text": "Old", "callback_data": "menu0:gone:42"}]]
    }
    press = await user.press(greeting, text="Old")
    assert press.answer is not None
    assert "expired" in (press.answer.text or "")
    # Also a current prefix with a value that no longer parses.
    emulator.chat(user.chat).messages[greeting.message_id].reply_markup = {
        "inline_keyboard": [[{"text": "Bad", "callback_data": "lang1:set:xx"}]]
    }
    press = await user.press(greeting, text="Bad")
    assert press.answer is not None
    assert "expired" in (press.answer.text or "")


async def test_unknown_command_and_unsupported_message(
    app: Application, emulator: BotAPIEmulator
) -> None:
    user = emulator.create_user("Mia", language_code="en")
    assert "There is no command /frobnicate" in await ask(user, "/frobnicate")
    # A "command" of 4,000 characters is echoed cut short, never as Fluent's "{???}".
    long_reply = await ask(user, "/" + "x" * 3999)
    assert "There is no command /xxxx" in long_reply
    assert "…" in long_reply
    assert "{???}" not in long_reply
    sent = await user.send_document(b"\x00\x01", "thing.bin")
    reply = await user.wait_reply(after=sent)
    assert "can't handle this kind of message" in (reply.text or "")


async def test_commands_and_descriptions_are_set_per_language(
    app: Application, emulator: BotAPIEmulator
) -> None:
    calls = emulator.calls_to("setMyCommands", ok=True)
    by_language = {c.params.get("language_code"): c.params for c in calls}
    assert {"ja", "en", None} <= set(by_language)
    ja_commands = str(by_language["ja"]["commands"])
    assert "言語を選ぶ" in ja_commands
    assert "Choose the language" in str(by_language["en"]["commands"])
    descriptions = {
        c.params.get("language_code") for c in emulator.calls_to("setMyDescription", ok=True)
    }
    assert {"ja", "en"} <= descriptions


async def test_the_same_update_twice_is_handled_once(
    app: Application, emulator: BotAPIEmulator
) -> None:
    user = emulator.create_user("Dup", language_code="en")
    chat = user.chat
    sent = await user.send_text("/help")
    await user.wait_reply(after=sent)
    # Telegram redelivers an update it thinks was lost.
    emulator.updates.redeliver(emulator.updates.history[-1]["update_id"])
    await emulator.wait_until(lambda: emulator.updates.pending_count == 0, what="delivered")
    await user.send_text("/privacy")
    await emulator.wait_for(lambda m: m.from_bot and "What Libral keeps" in (m.text or ""))
    helps = [m for m in emulator.messages(chat, from_bot=True) if "How to use" in (m.text or "")]
    assert len(helps) == 1
    assert app.metrics.duplicates._value.get() >= 1


async def test_a_failed_update_gets_an_apology(app: Application, emulator: BotAPIEmulator) -> None:
    user = emulator.create_user("Err", language_code="en")
    # The first reply fails at Telegram; the handler raises; the user still hears back.
    emulator.faults.schedule("sendMessage", [500])
    await user.send_text("/help")
    apology = await user.wait_reply()
    assert "something went wrong" in (apology.text or "")


async def test_throttling_tells_the_user_once(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> None:
    # A refill of one message per 100 s: however slow the machine, no token comes back mid-test.
    settings = make_settings(throttle_rate=0.01, throttle_burst=3)
    async with run_bot(emulator, settings, "polling"):
        user = emulator.create_user("Fast", language_code="en")
        for _ in range(6):
            await user.send_text("/help")
        await emulator.wait_for(lambda m: "a bit fast" in (m.text or ""))
        await user.send_text("/help")
        await emulator.wait_until(lambda: emulator.updates.pending_count == 0, what="delivered")

        def helped() -> int:
            messages = emulator.messages(user.chat, from_bot=True)
            return sum("How to use" in (m.text or "") for m in messages)

        # The answers let through are paced by the chat's send budget: wait for them before
        # stopping (the drain at shutdown is bounded, and this machine may be slow).
        await eventually(lambda: helped() >= 3, "three answers", timeout=60)
    texts = [m.text or "" for m in emulator.messages(user.chat, from_bot=True)]
    assert sum("a bit fast" in t for t in texts) == 1
    assert sum("How to use" in t for t in texts) == 3


async def test_webhook_rejects_a_missing_or_wrong_secret(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> None:
    async with run_bot(emulator, make_settings(), "webhook") as app:
        url = app.settings.webhook_url
        assert url is not None
        user = emulator.create_user("Eve", language_code="en")
        update = {
            "update_id": 999_001,
            "message": {
                "message_id": 1,
                "date": int(emulator.clock.now()),
                "chat": user.chat.to_api(),
                "from": user.user.to_api(),
                "text": "/help",
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update) as resp:
                assert resp.status == 401
            wrong = {"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"}
            async with http.post(url, json=update, headers=wrong) as resp:
                assert resp.status == 401
            base = url.rsplit("/", 1)[0]
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 200
                health = await resp.json()
                assert health["database"] == "ok"
            async with http.get(f"{base}/metrics") as resp:
                assert "libral_updates_total" in await resp.text()
        # A real update through the emulator still works, and the forged ones did nothing.
        await ask(user, "/privacy")
        assert not [m for m in emulator.messages(user.chat) if "How to use" in (m.text or "")]


async def test_a_repeated_press_is_answered_without_an_apology(
    app: Application, emulator: BotAPIEmulator
) -> None:
    user = emulator.create_user("Ivo", language_code="ja")
    await user.send_text("/start")
    greeting = await user.wait_reply()
    first = await user.press(greeting, text="English")
    assert first.answer is not None
    edited = emulator.chat(user.chat).messages[greeting.message_id]
    await emulator.wait_until(
        lambda: "The bot now speaks English" in (edited.text or ""), what="greeting edited"
    )
    # The same button on the edited message: the edit changes nothing ("message is not
    # modified"), which is not a failure.
    again = await user.press(edited, text="✓ English")
    assert again.answer is not None
    assert again.answer.text == "Switched to English."

    # The update is done, not failed: nothing reached the error boundary.
    def handled() -> bool:
        count = app.metrics.registry.get_sample_value(
            "libral_updates_total", {"type": "callback_query"}
        )
        return (count or 0) >= 2

    await emulator.wait_until(handled, what="both presses handled")
    errors = app.metrics.registry.get_sample_value(
        "libral_errors_total", {"type": "callback_query"}
    )
    assert not errors
    last = emulator.last_message(user.chat, from_bot=True)
    assert last is not None
    assert "Sorry" not in (last.text or "")
    refused = [c for c in emulator.calls_to("answerCallbackQuery") if not c.ok]
    assert refused == []


async def test_a_press_that_fails_after_its_answer_still_gets_a_message(
    app: Application, emulator: BotAPIEmulator
) -> None:
    user = emulator.create_user("Uma", language_code="ja")
    await user.send_text("/start")
    greeting = await user.wait_reply()

    async def refuse(call: Call) -> Any:
        raise bad_request("message can't be edited")

    emulator.override_method("editMessageText", refuse)
    # The language handler answers the press, then its edit fails: Telegram would refuse a
    # second answer, so the apology comes as a message.
    await user.press(greeting, text="English")
    sorry = await emulator.wait_for(
        lambda m: m.from_bot and m.message_id > greeting.message_id, chat=user.chat
    )
    assert sorry.text == app.translator.get("ja", "error-generic")
    refused = [c for c in emulator.calls_to("answerCallbackQuery") if not c.ok]
    assert refused == []
