"""Tests of the Bot API emulator, through the real aiogram ``Bot``; they double as examples."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    CallbackQuery,
    ChatAdministratorRights,
    ChatMemberAdministrator,
    ChatMemberBanned,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    KeyboardButtonRequestChat,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from PIL import Image

from tests.emulator import BotAPIEmulator, EmulatorUsageError, admin_rights
from tests.emulator.html_entities import parse_markdown_v2
from tests.emulator.limits import FaultInjector
from tests.emulator.registry import Call
from tests.emulator.state import Member

TOPIC_RIGHTS = admin_rights(can_manage_topics=True, can_delete_messages=True, can_pin_messages=True)


async def raw_call(
    emu: BotAPIEmulator,
    method: str,
    *,
    data: dict[str, Any] | None = None,
    json_body: dict[str, Any] | None = None,
    token: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """One plain HTTP request, as curl would make it."""
    url = f"{emu.base_url}/bot{token or emu.token}/{method}"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=data, json=json_body) as resp,
    ):
        return resp.status, await resp.json()


async def started_user(emu: BotAPIEmulator, bot: Bot, name: str = "Aiko") -> Any:
    """A user who has pressed /start (so the bot may write to them); updates drained."""
    user = emu.create_user(name, language_code="ja")
    await user.send_text("/start")
    updates = await bot.get_updates()
    await bot.get_updates(offset=updates[-1].update_id + 1)
    return user


# -- transport and envelope ------------------------------------------------------------------------


async def test_envelope_and_get_me(emulator: BotAPIEmulator) -> None:
    status, body = await raw_call(emulator, "getMe")
    assert status == 200
    assert body["ok"] is True
    assert body["result"]["username"] == "libral_test_bot"
    assert body["result"]["is_bot"] is True


async def test_wrong_token_is_401(emulator: BotAPIEmulator) -> None:
    status, body = await raw_call(emulator, "getMe", token="1:wrong")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    bot = Bot(
        "42:wrong-token", session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
    )
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await bot.get_me()
    finally:
        await bot.session.close()


async def test_unknown_method_is_404(emulator: BotAPIEmulator) -> None:
    status, body = await raw_call(emulator, "sendTelepathy")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})


async def test_known_but_unimplemented_method_says_so(emulator: BotAPIEmulator) -> None:
    status, body = await raw_call(emulator, "sendDice", data={"chat_id": "1"})
    assert status == 404
    assert "not implemented by the emulator" in body["description"]


async def test_json_form_and_query_bodies(emulator: BotAPIEmulator) -> None:
    user = emulator.create_user("Ann")
    await user.send_text("hi")
    status, body = await raw_call(
        emulator,
        "sendMessage",
        json_body={"chat_id": user.id, "text": "json", "reply_markup": {"inline_keyboard": []}},
    )
    assert status == 200, body
    status, body = await raw_call(
        emulator, "sendMessage", data={"chat_id": str(user.id), "text": "form"}
    )
    assert status == 200, body
    assert [m.text for m in emulator.messages(user.id, from_bot=True)] == ["json", "form"]


# -- schema checks ---------------------------------------------------------------------------------


async def test_unknown_parameter_is_refused(emulator: BotAPIEmulator) -> None:
    status, body = await raw_call(emulator, "getMe", data={"colour": "blue"})
    assert status == 400
    assert body["description"] == 'Bad Request: unknown parameter "colour"'


async def test_missing_required_parameter(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)
    status, body = await raw_call(emulator, "sendMessage", data={"chat_id": str(user.id)})
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")
    status, body = await raw_call(emulator, "getFile", data={})
    assert (status, body["description"]) == (400, "Bad Request: file_id is empty")


async def test_wrongly_typed_parameters(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)
    status, body = await raw_call(
        emulator,
        "sendMessage",
        data={"chat_id": str(user.id), "text": "x", "message_thread_id": "seven"},
    )
    assert status == 400
    assert "message_thread_id" in body["description"]
    status, body = await raw_call(
        emulator,
        "sendMessage",
        data={"chat_id": str(user.id), "text": "x", "reply_markup": "{not json"},
    )
    assert body["description"] == "Bad Request: can't parse reply keyboard markup JSON object"
    # A button with a field no Bot API type has.
    markup = {"inline_keyboard": [[{"text": "a", "callback_data": "b", "colour": "red"}]]}
    status, body = await raw_call(
        emulator,
        "sendMessage",
        data={"chat_id": str(user.id), "text": "x", "reply_markup": json.dumps(markup)},
    )
    assert status == 400
    assert body["description"] == "Bad Request: can't parse reply keyboard markup JSON object"


async def test_unknown_chat(emulator_bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await emulator_bot.send_message(999, "hello?")


# -- text rules ------------------------------------------------------------------------------------


async def test_text_length_counts_after_entity_parsing(
    emulator: BotAPIEmulator, emulator_bot: Bot
) -> None:
    user = await started_user(emulator, emulator_bot)
    await emulator_bot.send_message(user.id, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await emulator_bot.send_message(user.id, "a" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await emulator_bot.send_message(user.id, "<b> </b>", parse_mode="HTML")


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<blink>x</blink>", 'Unsupported start tag "blink" at byte offset 0'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
    ],
)
async def test_bad_html_is_refused(
    emulator: BotAPIEmulator, emulator_bot: Bot, html: str, reason: str
) -> None:
    user = await started_user(emulator, emulator_bot)
    with pytest.raises(TelegramBadRequest) as caught:
        await emulator_bot.send_message(user.id, html, parse_mode="HTML")
    assert caught.value.message == f"Bad Request: can't parse entities: {reason}"


async def test_good_html_becomes_entities(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)
    sent = await emulator_bot.send_message(
        user.id,
        '<b>bold</b> &lt;3 &#128512; <a href="https://example.org">link</a> '
        '<tg-spoiler>s</tg-spoiler> <pre><code class="language-python">x = 1</code></pre> '
        "<blockquote expandable>q</blockquote>",
        parse_mode="HTML",
    )
    assert sent.text == "bold <3 😀 link s x = 1 q"
    kinds = [(e.type, e.offset, e.length) for e in sent.entities or []]
    # 😀 is two UTF-16 code units: offsets after it move by 2.
    assert kinds == [
        ("bold", 0, 4),
        ("text_link", 11, 4),
        ("spoiler", 16, 1),
        ("pre", 18, 5),
        ("expandable_blockquote", 24, 1),
    ]
    assert sent.entities is not None
    assert sent.entities[3].language == "python"


async def test_markdown_v2_reserved_characters(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)
    with pytest.raises(TelegramBadRequest, match=r"Character '\.' is reserved"):
        await emulator_bot.send_message(user.id, "1.5 credits", parse_mode="MarkdownV2")
    sent = await emulator_bot.send_message(user.id, r"*1\.5* credits", parse_mode="MarkdownV2")
    assert sent.text == "1.5 credits"
    assert sent.entities is not None
    assert sent.entities[0].type == "bold"


async def test_callback_data_limit(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)

    def keyboard(data: str) -> InlineKeyboardMarkup:
        button = InlineKeyboardButton(text="go", callback_data=data)
        return InlineKeyboardMarkup(inline_keyboard=[[button]])

    await emulator_bot.send_message(user.id, "ok", reply_markup=keyboard("x" * 64))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await emulator_bot.send_message(user.id, "too long", reply_markup=keyboard("x" * 65))
    bad_link = InlineKeyboardButton(text="docs", url="/relative/path")
    with pytest.raises(TelegramBadRequest, match="Wrong HTTP URL"):
        await emulator_bot.send_message(
            user.id, "link", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[bad_link]])
        )
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        # 22 three-byte characters are 66 bytes, though only 22 characters.
        await emulator_bot.send_message(user.id, "bytes", reply_markup=keyboard("あ" * 22))


async def test_edit_not_modified_and_delete_window(
    emulator: BotAPIEmulator, emulator_bot: Bot
) -> None:
    user = await started_user(emulator, emulator_bot)
    sent = await emulator_bot.send_message(user.id, "v1")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await emulator_bot.edit_message_text(chat_id=user.id, message_id=sent.message_id, text="v1")
    edited = await emulator_bot.edit_message_text(
        chat_id=user.id, message_id=sent.message_id, text="v2"
    )
    assert isinstance(edited, Message)
    assert edited.edit_date is not None
    stored = emulator.last_message(user.id)
    assert stored is not None
    assert (stored.text, [e["text"] for e in stored.edits]) == ("v2", ["v1"])

    emulator.clock.advance(48 * 3600 + 1)
    with pytest.raises(TelegramBadRequest, match="message can't be deleted for everyone"):
        await emulator_bot.delete_message(user.id, sent.message_id)
    fresh = await emulator_bot.send_message(user.id, "new")
    assert await emulator_bot.delete_message(user.id, fresh.message_id) is True
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await emulator_bot.delete_message(user.id, fresh.message_id)


# -- updates ---------------------------------------------------------------------------------------


async def test_polling_with_offset(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = emulator.create_user("Aiko")
    for text in ("one", "two", "three"):
        await user.send_text(text)
    updates = await emulator_bot.get_updates()
    ids = [u.update_id for u in updates]
    assert [u.message.text for u in updates if u.message] == ["one", "two", "three"]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    # Not confirmed yet: delivered again.
    assert len(await emulator_bot.get_updates()) == 3
    assert len(await emulator_bot.get_updates(offset=ids[1])) == 2
    assert await emulator_bot.get_updates(offset=ids[-1] + 1) == []
    await user.send_text("four")
    later = await emulator_bot.get_updates(offset=ids[-1] + 1, limit=10)
    assert [u.update_id for u in later] == [ids[-1] + 1]


async def test_long_polling_returns_when_an_update_arrives(
    emulator: BotAPIEmulator, emulator_bot: Bot
) -> None:
    user = emulator.create_user("Aiko")
    poll = asyncio.create_task(emulator_bot.get_updates(timeout=30))
    await emulator.wait_until(lambda: emulator.updates.waiting_pollers > 0, what="a waiting poll")
    await user.send_text("wake up")
    updates = await asyncio.wait_for(poll, 10)
    assert [u.message.text for u in updates if u.message] == ["wake up"]


async def test_allowed_updates_are_honoured(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = emulator.create_user("Aiko")
    assert await emulator_bot.get_updates(allowed_updates=["callback_query"]) == []
    await user.send_text("not for you")
    assert await emulator_bot.get_updates() == []
    assert emulator.updates.history == []
    await emulator_bot.get_updates(allowed_updates=[])  # back to the default set
    await user.send_text("now")
    assert len(await emulator_bot.get_updates()) == 1


async def test_same_update_delivered_twice(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    chat = emulator.create_user("Aiko").chat
    emulator.updates.push(
        {"message": {"message_id": 1, "date": 0, "chat": chat.to_api(), "text": "dup"}}, times=2
    )
    updates = await emulator_bot.get_updates()
    assert len(updates) == 2
    assert updates[0].update_id == updates[1].update_id


async def test_raw_update(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    chat = emulator.create_user("Aiko").chat.to_api()
    edited = {"message_id": 3, "date": 0, "edit_date": 1, "chat": chat, "text": "edited"}
    emulator.updates.push_raw({"update_id": 777, "edited_message": edited})
    (update,) = await emulator_bot.get_updates()
    assert update.update_id == 777
    assert update.edited_message is not None


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[tuple[str, list[web.Request], list[int]]]:
    """A tiny webhook endpoint; answers the statuses queued in ``plan`` (then 200)."""
    seen: list[web.Request] = []
    plan: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request)
        await request.json()
        return web.Response(status=plan.pop(0) if plan else 200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/hook", seen, plan
    await runner.cleanup()


async def test_webhook_with_secret_and_retries(
    emulator: BotAPIEmulator,
    emulator_bot: Bot,
    webhook_receiver: tuple[str, list[web.Request], list[int]],
) -> None:
    url, seen, plan = webhook_receiver
    plan.extend([500, 502])  # Telegram retries until the endpoint answers 2xx
    await emulator_bot.set_webhook(url, secret_token="s3cr3t-Token_1")
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await emulator_bot.get_updates()
    user = emulator.create_user("Aiko")
    await user.send_text("via webhook")
    await emulator.wait_until(
        lambda: len(emulator.updates.webhook_attempts) >= 3, what="three webhook attempts"
    )
    assert {r.headers["X-Telegram-Bot-Api-Secret-Token"] for r in seen} == {"s3cr3t-Token_1"}
    attempts = emulator.updates.webhook_attempts
    assert [a.status for a in attempts[:3]] == [500, 502, 200]
    assert len({a.update_id for a in attempts[:3]}) == 1
    info = await emulator_bot.get_webhook_info()
    assert info.url == url
    assert info.pending_update_count == 0
    assert info.last_error_message is not None
    await emulator_bot.delete_webhook()
    await user.send_text("polled again")
    assert len(await emulator_bot.get_updates()) == 1


# -- flood limits and faults -----------------------------------------------------------------------


async def test_group_flood_limit_gives_429_with_retry_after(
    emulator: BotAPIEmulator, emulator_bot: Bot
) -> None:
    owner = emulator.create_user("Owner")
    group = emulator.create_supergroup(owner, "Logs")
    await owner.add_bot_to_group(group)
    emulator.limits.enabled = True
    emulator.clock.freeze()  # windows move only with clock.advance()
    for n in range(20):
        await emulator_bot.send_message(group.id, f"record {n}")
    with pytest.raises(TelegramRetryAfter) as caught:
        await emulator_bot.send_message(group.id, "one too many")
    assert 1 <= caught.value.retry_after <= 60
    assert emulator.errors(429)[0].retry_after == caught.value.retry_after
    emulator.clock.advance(caught.value.retry_after)
    await emulator_bot.send_message(group.id, "after waiting")


async def test_private_chat_bursts_then_429_and_edits_count(
    emulator: BotAPIEmulator, emulator_bot: Bot
) -> None:
    user = await started_user(emulator, emulator_bot)
    emulator.limits.enabled = True
    emulator.clock.freeze()
    sent = await emulator_bot.send_message(user.id, "1")
    await emulator_bot.send_message(user.id, "2")
    await emulator_bot.edit_message_text(chat_id=user.id, message_id=sent.message_id, text="1!")
    with pytest.raises(TelegramRetryAfter):
        await emulator_bot.send_message(user.id, "4")
    emulator.clock.advance(1)
    await emulator_bot.send_message(user.id, "5")
    assert len(emulator.errors(429)) == 1


async def test_injected_429_for_one_chat_only(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)
    other = await started_user(emulator, emulator_bot, "Ben")
    emulator.faults.schedule("sendMessage", [429], chat_id=user.id)
    await emulator_bot.send_message(other.id, "unaffected")
    with pytest.raises(TelegramRetryAfter) as caught:
        await emulator_bot.send_message(user.id, "limited")
    assert caught.value.retry_after == 1
    await emulator_bot.send_message(user.id, "through")
    assert [c.fault for c in emulator.calls_to("sendMessage")] == [None, "error 429", None]


async def test_scheduled_server_errors(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)
    emulator.faults.schedule("sendMessage", [500, 502, None])
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await emulator_bot.send_message(user.id, "a")
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await emulator_bot.send_message(user.id, "b")
    await emulator_bot.send_message(user.id, "c")
    assert [m.text for m in emulator.messages(user.id, from_bot=True)] == ["c"]
    assert [c.fault for c in emulator.calls_to("sendMessage")] == ["error 500", "error 502", None]


async def test_timeout_fault(emulator: BotAPIEmulator) -> None:
    user = emulator.create_user("Aiko")
    await user.send_text("/start")
    bot = emulator.make_bot(timeout=1)
    try:
        emulator.faults.schedule("sendMessage", ["timeout_after_effect"])
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(user.id, "did it arrive?")
        # The message was delivered although the bot never heard back.
        assert [m.text for m in emulator.messages(user.id, from_bot=True)] == ["did it arrive?"]
    finally:
        await bot.session.close()


async def test_timeout_without_effect(emulator: BotAPIEmulator) -> None:
    user = emulator.create_user("Aiko", started_bot=True)
    bot = emulator.make_bot(timeout=1)
    try:
        emulator.faults.schedule("sendMessage", ["timeout"])
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(user.id, "lost")
        assert emulator.messages(user.id, from_bot=True) == []
        await bot.send_message(user.id, "retried")
        assert [m.text for m in emulator.messages(user.id, from_bot=True)] == ["retried"]
    finally:
        await bot.session.close()


async def test_emulator_bugs_are_loud(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    async def broken(call: Call) -> Any:
        raise KeyError("oops")

    emulator.override_method("getMe", broken)
    with pytest.raises(TelegramServerError, match="oops"):
        await emulator_bot.get_me()
    assert emulator.internal_errors == ["getMe: KeyError: 'oops'"]
    emulator.internal_errors.clear()  # or the fixture fails this test


def test_fault_probabilities_are_reproducible() -> None:
    def outcomes(seed: int) -> list[str | None]:
        faults = FaultInjector(seed)
        faults.set("sendMessage", error_rate=0.3, timeout_rate=0.2)
        return [(f.kind if f else None) for f in (faults.decide("sendMessage") for _ in range(50))]

    assert outcomes(7) == outcomes(7)
    assert {"error", "timeout", None} <= set(outcomes(7))
    assert outcomes(7) != outcomes(8)


# -- chats and forum topics ------------------------------------------------------------------------


async def test_forum_topics(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    owner = emulator.create_user("Owner")
    group = emulator.create_supergroup(owner, "My logs", is_forum=True)
    await owner.add_bot_to_group(group, rights=admin_rights(can_delete_messages=True))
    with pytest.raises(TelegramBadRequest, match="not enough rights to create a topic"):
        await emulator_bot.create_forum_topic(group.id, "Audit")
    await owner.promote_bot(group, TOPIC_RIGHTS)
    with pytest.raises(TelegramBadRequest, match="TOPIC_TITLE_TOO_LONG"):
        await emulator_bot.create_forum_topic(group.id, "x" * 129)
    topic = await emulator_bot.create_forum_topic(group.id, "Audit")
    sent = await emulator_bot.send_message(
        group.id, "#audit record", message_thread_id=topic.message_thread_id
    )
    assert sent.message_thread_id == topic.message_thread_id
    assert sent.is_topic_message is True
    general = await emulator_bot.send_message(group.id, "in General")
    assert general.message_thread_id is None
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await emulator_bot.send_message(group.id, "General is not addressable", message_thread_id=1)
    stored_general = emulator.last_message(group, from_bot=True)
    assert stored_general is not None
    reply = await owner.send_text("a reply in General", chat=group, reply_to=stored_general)
    assert reply.data["message_thread_id"] == general.message_id
    assert "is_topic_message" not in reply.data
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await emulator_bot.send_message(group.id, "x", message_thread_id=general.message_id)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await emulator_bot.send_message(group.id, "lost", message_thread_id=99999)
    thread = emulator.messages(group, topic.message_thread_id)
    assert [("forum_topic_created" in m.data, m.text) for m in thread] == [
        (True, None),
        (False, "#audit record"),
    ]
    assert await emulator_bot.edit_forum_topic(group.id, topic.message_thread_id, name="Audit 2")
    assert group.topics[topic.message_thread_id].name == "Audit 2"
    assert await emulator_bot.close_forum_topic(group.id, topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
        await emulator_bot.close_forum_topic(group.id, topic.message_thread_id)
    assert await emulator_bot.delete_forum_topic(group.id, topic.message_thread_id)
    assert emulator.messages(group, topic.message_thread_id) == []
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await emulator_bot.send_message(group.id, "gone", message_thread_id=topic.message_thread_id)


async def test_chat_info_parses_in_aiogram(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    owner = emulator.create_user("Owner")
    group = emulator.create_supergroup(owner, "Logs", is_forum=True)
    await owner.add_bot_to_group(group, TOPIC_RIGHTS)
    sent = await emulator_bot.send_message(group.id, "panel")
    await emulator_bot.pin_chat_message(group.id, sent.message_id)
    info = await emulator_bot.get_chat(group.id)
    assert info.is_forum is True
    assert info.pinned_message is not None
    assert info.pinned_message.message_id == sent.message_id
    me = await emulator_bot.get_chat_member(group.id, emulator.bot_user.id)
    assert isinstance(me, ChatMemberAdministrator)
    assert me.can_manage_topics is True
    assert me.can_restrict_members is False
    admins = await emulator_bot.get_chat_administrators(group.id)
    assert {a.status for a in admins} == {"creator", "administrator"}
    assert await emulator_bot.get_chat_member_count(group.id) == 2
    for message in emulator.all_messages():
        assert emulator.schema.object_errors("Message", message.data) == []


async def test_blocked_user_gives_403(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)
    user.block_bot()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await emulator_bot.send_message(user.id, "still there?")
    (update,) = await emulator_bot.get_updates()
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    await emulator_bot.get_updates(offset=update.update_id + 1)
    await user.send_text("/start")  # "Restart" in the app unblocks the bot
    unblocked, start = await emulator_bot.get_updates()
    assert unblocked.my_chat_member is not None
    assert unblocked.my_chat_member.new_chat_member.status == "member"
    assert start.message is not None
    await emulator_bot.send_message(user.id, "welcome back")


async def test_my_chat_member_and_startgroup_flow(
    emulator: BotAPIEmulator, emulator_bot: Bot
) -> None:
    owner = emulator.create_user("Owner")
    group = emulator.create_supergroup(owner, "Logs", is_forum=True)
    await owner.add_bot_to_group(group, TOPIC_RIGHTS, start_payload="tok123")
    updates = await emulator_bot.get_updates(allowed_updates=["message", "my_chat_member"])
    kinds = [u.event_type for u in updates]
    assert kinds == ["my_chat_member", "message", "message"]
    added = updates[0].my_chat_member
    assert added is not None
    assert (added.old_chat_member.status, added.new_chat_member.status) == ("left", "administrator")
    assert updates[1].message is not None
    assert updates[1].message.new_chat_members
    assert updates[2].message is not None
    assert updates[2].message.text == "/start@libral_test_bot tok123"
    await emulator_bot.get_updates(offset=updates[-1].update_id + 1)

    await owner.remove_bot_from_group(group)
    (removed,) = await emulator_bot.get_updates()
    assert removed.my_chat_member is not None
    assert isinstance(removed.my_chat_member.new_chat_member, ChatMemberBanned)
    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the supergroup chat"):
        await emulator_bot.send_message(group.id, "hello?")


async def test_chat_shared_flow(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)
    group = emulator.create_supergroup(user, "Aiko's logs", is_forum=True)
    plain = emulator.create_supergroup(user, "No topics")
    with pytest.raises(EmulatorUsageError, match="no request_chat button"):
        await user.share_chat(1, group)
    rights = ChatAdministratorRights(
        is_anonymous=False,
        can_manage_chat=False,
        can_delete_messages=True,
        can_manage_video_chats=False,
        can_restrict_members=False,
        can_promote_members=False,
        can_change_info=False,
        can_invite_users=False,
        can_post_stories=False,
        can_edit_stories=False,
        can_delete_stories=False,
        can_manage_topics=True,
        can_send_welcome_messages=False,
    )
    button = KeyboardButton(
        text="Pick a group",
        request_chat=KeyboardButtonRequestChat(
            request_id=1,
            chat_is_channel=False,
            chat_is_forum=True,
            bot_administrator_rights=rights,
            user_administrator_rights=rights,
            request_title=True,
        ),
    )
    await emulator_bot.send_message(
        user.id, "Choose", reply_markup=ReplyKeyboardMarkup(keyboard=[[button]])
    )
    with pytest.raises(EmulatorUsageError, match="forum mismatch"):
        await user.share_chat(1, plain)
    await user.share_chat(1, group)
    updates = await emulator_bot.get_updates(allowed_updates=["message", "my_chat_member"])
    assert [u.event_type for u in updates] == ["my_chat_member", "message", "message"]
    shared = updates[-1].message
    assert shared is not None
    assert shared.chat_shared is not None
    assert (shared.chat_shared.chat_id, shared.chat_shared.title) == (group.id, "Aiko's logs")
    member = await emulator_bot.get_chat_member(group.id, emulator.bot_user.id)
    assert isinstance(member, ChatMemberAdministrator)
    assert (member.can_manage_topics, member.can_delete_messages) == (True, True)


# -- files -----------------------------------------------------------------------------------------


async def test_document_upload_and_download(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)
    payload = b"-----BEGIN PGP MESSAGE-----\n...\n-----END PGP MESSAGE-----\n"
    sent = await emulator_bot.send_document(
        user.id,
        BufferedInputFile(payload, "record.asc"),
        caption="<b>#audit</b>",
        parse_mode="HTML",
    )
    assert sent.document is not None
    assert (sent.document.file_name, sent.document.file_size) == ("record.asc", len(payload))
    assert sent.caption == "#audit"
    file = await emulator_bot.get_file(sent.document.file_id)
    assert file.file_path is not None
    downloaded = await emulator_bot.download_file(file.file_path)
    assert downloaded is not None
    assert downloaded.read() == payload
    again = await emulator_bot.send_document(user.id, sent.document.file_id)
    assert again.document is not None
    assert again.document.file_unique_id == sent.document.file_unique_id
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await emulator_bot.send_document(user.id, "no-such-file-id")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await emulator_bot.send_document(
            user.id, BufferedInputFile(b"x", "x.txt"), caption="c" * 1025
        )


async def test_user_sends_a_document(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = emulator.create_user("Aiko")
    await user.send_document(b"public key", "key.asc", caption="my key")
    (update,) = await emulator_bot.get_updates()
    assert update.message is not None
    assert update.message.document is not None
    buffer = await emulator_bot.download(update.message.document.file_id)
    assert buffer is not None
    assert buffer.read() == b"public key"


async def test_unimplemented_file_download_path_is_404(emulator: BotAPIEmulator) -> None:
    url = f"{emulator.base_url}/file/bot{emulator.token}/documents/nope"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 404


# -- bot profile, drafts, copies -------------------------------------------------------------------


async def test_commands_and_descriptions_per_language(emulator_bot: Bot) -> None:
    commands = [
        BotCommand(command="start", description="Start"),
        BotCommand(command="new", description="New chat"),
    ]
    await emulator_bot.set_my_commands(
        commands, scope=BotCommandScopeAllPrivateChats(), language_code="en"
    )
    assert await emulator_bot.get_my_commands() == []
    got = await emulator_bot.get_my_commands(
        scope=BotCommandScopeAllPrivateChats(), language_code="en"
    )
    assert [c.command for c in got] == ["start", "new"]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await emulator_bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])
    await emulator_bot.set_my_description("AI と話す", language_code="ja")
    assert (await emulator_bot.get_my_description(language_code="ja")).description == "AI と話す"
    assert (await emulator_bot.get_my_description()).description == ""
    await emulator_bot.set_my_short_description("short")
    assert (await emulator_bot.get_my_short_description()).short_description == "short"
    await emulator_bot.set_my_name("Libral AI")
    assert (await emulator_bot.get_my_name()).name == "Libral AI"


async def test_drafts_are_visible_and_stoppable(
    emulator: BotAPIEmulator, emulator_bot: Bot
) -> None:
    user = await started_user(emulator, emulator_bot)
    for partial in ("Hel", "Hello, wor", "Hello, world"):
        assert await emulator_bot.send_message_draft(
            user.id, draft_id=7, text=partial, can_stop=True
        )
    (draft,) = emulator.drafts(user.id)
    assert draft.texts == ["Hel", "Hello, wor", "Hello, world"]
    assert emulator.messages(user.id, from_bot=True) == []  # a draft is not a message
    await user.stop_generation()
    (update,) = await emulator_bot.get_updates()
    assert update.stopped_message_generation is not None
    assert update.stopped_message_generation.draft_id == 7
    owner = emulator.create_user("Owner")
    group = emulator.create_supergroup(owner, "G")
    await owner.add_bot_to_group(group)
    with pytest.raises(TelegramBadRequest):
        await emulator_bot.send_message_draft(group.id, draft_id=1, text="no drafts in groups")


async def test_copy_and_forward(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)
    original = await user.send_text("copy me")
    copied = await emulator_bot.copy_message(user.id, user.id, original.message_id)
    forwarded = await emulator_bot.forward_message(user.id, user.id, original.message_id)
    assert emulator.chat(user.id).messages[copied.message_id].text == "copy me"
    assert forwarded.forward_origin is not None
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await emulator_bot.copy_message(user.id, user.id, 9999)


# -- a whole bot, end to end -----------------------------------------------------------------------


async def test_end_to_end_with_dispatcher(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    """The shape of a feature test: a real Dispatcher polls; the test acts as the user."""
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        buttons = [[InlineKeyboardButton(text="English", callback_data="lang:en")]]
        await message.answer(
            "Choose a language", reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons)
        )

    @router.callback_query(F.data.startswith("lang:"))
    async def chosen(query: CallbackQuery) -> None:
        await query.answer("Saved", show_alert=True)
        assert isinstance(query.message, Message)
        await query.message.edit_text("Language: English")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    polling = asyncio.create_task(
        dispatcher.start_polling(
            emulator_bot, handle_signals=False, close_bot_session=False, polling_timeout=1
        )
    )
    try:
        user = emulator.create_user("Aiko", language_code="ja")
        await user.send_text("/start")
        menu = await user.wait_reply()
        assert menu.text == "Choose a language"
        pressed = await user.press(menu, text="English")
        assert pressed.answer is not None
        assert (pressed.answer.text, pressed.answer.show_alert) == ("Saved", True)
        await emulator.wait_until(lambda: menu.text == "Language: English", what="menu edited")
        assert menu.inline_buttons == []  # editing without reply_markup drops the keyboard
    finally:
        await dispatcher.stop_polling()
        await polling


async def test_webhook_reply_is_executed(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    """aiogram's webhook handler may answer the POST with a method call; Telegram runs it."""
    router = Router()

    @router.message()
    async def echo(message: Message) -> SendMessage:
        return SendMessage(chat_id=message.chat.id, text=f"echo: {message.text}")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    app = web.Application()
    SimpleRequestHandler(
        dispatcher, emulator_bot, handle_in_background=False, secret_token="hook-secret"
    ).register(app, path="/hook")
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        await emulator_bot.set_webhook(url, secret_token="hook-secret")
        user = emulator.create_user("Aiko")
        await user.send_text("ping")
        reply = await user.wait_reply()
        assert reply.text == "echo: ping"
        (call,) = emulator.calls_to("sendMessage")
        assert call.extra == {"via": "webhook reply"}
    finally:
        await emulator_bot.delete_webhook()
        await runner.cleanup()


async def test_photo_sizes(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)
    image = io.BytesIO()
    Image.new("RGB", (320, 200), "navy").save(image, format="PNG")
    sent = await emulator_bot.send_photo(user.id, BufferedInputFile(image.getvalue(), "chart.png"))
    assert sent.photo is not None
    assert [(p.width, p.height) for p in sent.photo] == [(90, 56), (320, 200)]
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await emulator_bot.send_photo(user.id, BufferedInputFile(b"not an image", "x.png"))


async def test_privacy_mode_in_groups(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    owner = emulator.create_user("Owner")
    group = emulator.create_supergroup(owner, "Chatter")
    await owner.add_bot_to_group(group)  # an ordinary member: privacy mode applies
    await emulator_bot.get_updates(offset=-1)  # drop what adding produced
    await emulator_bot.get_updates(offset=emulator.updates.next_update_id)
    await owner.send_text("just chatting", chat=group)
    await owner.send_text("/help@libral_test_bot", chat=group)
    updates = await emulator_bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["/help@libral_test_bot"]


async def test_pins_and_bulk_delete(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)
    first = await emulator_bot.send_message(user.id, "first")
    second = await emulator_bot.send_message(user.id, "second")
    assert await emulator_bot.pin_chat_message(user.id, first.message_id)
    assert emulator.chat(user.id).pinned == [first.message_id]
    assert await emulator_bot.unpin_chat_message(user.id)
    with pytest.raises(TelegramBadRequest, match="message to unpin not found"):
        await emulator_bot.unpin_chat_message(user.id)
    assert await emulator_bot.delete_messages(user.id, [first.message_id, second.message_id, 999])
    assert emulator.messages(user.id, from_bot=True) == []


async def test_chat_actions_are_recorded(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator, emulator_bot)
    assert await emulator_bot.send_chat_action(user.id, "typing")
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await emulator_bot.send_chat_action(user.id, "dancing")
    assert [(a.chat_id, a.action) for a in emulator.state.chat_actions] == [(user.id, "typing")]


async def test_a_second_poller_terminates_the_first(
    emulator: BotAPIEmulator, emulator_bot: Bot
) -> None:
    first = asyncio.create_task(emulator_bot.get_updates(timeout=30))
    await emulator.wait_until(lambda: emulator.updates.waiting_pollers > 0, what="first poll")
    assert await emulator_bot.get_updates() == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first


async def test_leave_chat_and_reply_markup_edits(
    emulator: BotAPIEmulator, emulator_bot: Bot
) -> None:
    owner = emulator.create_user("Owner")
    group = emulator.create_supergroup(owner, "G")
    await owner.add_bot_to_group(group)
    button = InlineKeyboardButton(text="Pause", callback_data="panel:pause")
    sent = await emulator_bot.send_message(
        group.id, "panel", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]])
    )
    stored = emulator.last_message(group, from_bot=True)
    assert stored is not None
    assert stored.button(data="panel:pause")["text"] == "Pause"
    resume = InlineKeyboardButton(text="Resume", callback_data="panel:resume")
    await emulator_bot.edit_message_reply_markup(
        chat_id=group.id,
        message_id=sent.message_id,
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[resume]]),
    )
    assert [b["text"] for b in stored.inline_buttons] == ["Resume"]
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await emulator_bot.edit_message_reply_markup(
            chat_id=group.id,
            message_id=sent.message_id,
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[resume]]),
        )
    assert await emulator_bot.leave_chat(group.id)
    assert group.member(emulator.bot_user).status == "left"
    with pytest.raises(TelegramForbiddenError, match="bot is not a member of the supergroup chat"):
        await emulator_bot.send_message(group.id, "still here?")


async def test_user_edits_a_message(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = emulator.create_user("Aiko")
    sent = await user.send_text("helo")
    await user.edit_text(sent, "hello")
    first, second = await emulator_bot.get_updates()
    assert first.message is not None
    assert second.edited_message is not None
    assert (second.edited_message.message_id, second.edited_message.text) == (
        first.message.message_id,
        "hello",
    )


MARKDOWN_V2_EXAMPLE = r"""*bold \*text*
_italic \*text_
__underline__
~strikethrough~
||spoiler||
*bold _italic bold ~italic strikethrough ||all four||~ __underline italic bold___ bold*
[inline URL](http://www.example.com/)
![👍](tg://emoji?id=5368324170671202286)
`inline fixed-width code`
```python
print("pre")
```
>Block quotation started
>Block quotation continued
**>The expandable block quotation started
>The last line of the expandable block quotation with the expandability mark||"""


def test_markdown_v2_official_example_parses() -> None:
    """The formatting example of the Bot API documentation, through the emulator's parser."""
    text, entities = parse_markdown_v2(MARKDOWN_V2_EXAMPLE)
    assert text.startswith("bold *text\nitalic *text\nunderline")
    assert text.endswith("with the expandability mark")
    kinds = [e["type"] for e in entities]
    assert kinds.count("bold") == 2
    assert kinds.count("italic") == 2
    assert {"underline", "strikethrough", "spoiler", "text_link", "custom_emoji", "code"} <= set(
        kinds
    )
    assert [e.get("language") for e in entities if e["type"] == "pre"] == ["python"]
    assert kinds[-2:] == ["blockquote", "expandable_blockquote"]


def test_state_objects_match_the_schema() -> None:
    """Every object the state renders is a valid Bot API object of its type."""
    emu = BotAPIEmulator()
    schema = emu.schema
    user = emu.create_user("Aiko", username="aiko", language_code="ja", is_premium=True)
    group = emu.create_supergroup(user, "Logs", is_forum=True, username="logs")
    for status in ("creator", "administrator", "member", "restricted", "left", "kicked"):
        rights = admin_rights(can_manage_topics=True) if status == "administrator" else {}
        member = Member(user.user, status, rights)
        assert schema.object_errors("ChatMember", member.to_api()) == [], status
    assert schema.object_errors("User", emu.bot_user.to_api()) == []
    assert schema.object_errors("ChatFullInfo", group.to_full_info()) == []
    assert schema.object_errors("ChatFullInfo", user.chat.to_full_info()) == []
    stored = emu.state.store_file(b"x", "document", file_name="a.txt")
    assert schema.object_errors("File", stored.to_file()) == []
    assert schema.object_errors("ChatAdministratorRights", admin_rights()) == []


async def test_basic_group_upgrade_and_demotion(
    emulator: BotAPIEmulator, emulator_bot: Bot
) -> None:
    owner = emulator.create_user("Owner")
    basic = emulator.create_group(owner, "Old group")
    await owner.add_bot_to_group(basic, admin_rights(can_delete_messages=True))
    supergroup = emulator.upgrade_to_supergroup(basic, is_forum=True)
    with pytest.raises(TelegramMigrateToChat) as caught:
        await emulator_bot.send_message(basic.id, "hello")
    assert caught.value.migrate_to_chat_id == supergroup.id
    updates = await emulator_bot.get_updates()
    migrations = [u.message for u in updates if u.message and u.message.migrate_to_chat_id]
    assert [m.migrate_to_chat_id for m in migrations] == [supergroup.id]
    await emulator_bot.send_message(supergroup.id, "hello again")
    await owner.demote_bot(supergroup)
    with pytest.raises(TelegramBadRequest, match="not enough rights to create a topic"):
        await emulator_bot.create_forum_topic(supergroup.id, "Audit")


async def test_get_requests_and_case_insensitive_method_names(emulator: BotAPIEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{emulator.base_url}/bot{emulator.token}/getme?"
        async with http.get(url) as response:
            body = await response.json()
    assert body["ok"] is True
    assert emulator.calls[-1].method == "getMe"


async def test_redelivery_of_a_confirmed_update(
    emulator: BotAPIEmulator, emulator_bot: Bot
) -> None:
    user = emulator.create_user("Aiko")
    await user.send_text("once")
    (first,) = await emulator_bot.get_updates()
    assert await emulator_bot.get_updates(offset=first.update_id + 1) == []
    emulator.updates.redeliver(first.update_id)
    (again,) = await emulator_bot.get_updates(offset=first.update_id + 1)
    assert again.update_id == first.update_id
    assert again.message is not None
    assert again.message.text == "once"
