"""AI rooms end to end, in Japanese and English: the real application against the Bot API
emulator, people acting in groups and forum topics, the real OpenAI SDK against a local fake."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.db.models import MovementKind
from bot.db.models.ai import AIUsage
from bot.db.models.rooms import Room
from bot.settings import Settings
from keyboards.rooms import PanelAction, RoomPanelCD
from services import ledger, users
from services.rooms import RoomService
from services.rooms.config import RoomsSettings
from tests.e2e.test_chat import SERVER_KEY, ai_settings, contents
from tests.emulator.actors import UserActor
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import Chat, Member, StoredMessage, admin_rights
from tests.fakes.ai_servers import FakeAnthropic, FakeOpenAI, Reply
from tests.harness import run_bot

LANGS = pytest.mark.parametrize("lang", ["ja", "en"])


@pytest.fixture
async def openai_fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(valid_keys=[SERVER_KEY]) as fake:
        assert isinstance(fake, FakeOpenAI)
        yield fake


@pytest.fixture
async def anthropic_fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic(valid_keys=[SERVER_KEY]) as fake:
        assert isinstance(fake, FakeAnthropic)
        yield fake


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], openai_fake: FakeOpenAI, anthropic_fake: FakeAnthropic
) -> Settings:
    return make_settings(
        ai=ai_settings(openai_fake, anthropic_fake),
        rooms=RoomsSettings(budget_steps=(0, 100, 1000), quota_steps=(0, 1, 3)),
    )


@pytest.fixture
async def app(emulator: BotAPIEmulator, settings: Settings) -> AsyncIterator[Application]:
    async with run_bot(emulator, settings) as running:
        yield running


def rooms_of(app: Application) -> RoomService:
    service = app.dispatcher.workflow_data["rooms"]
    assert isinstance(service, RoomService)
    return service


def plain(text: str) -> str:
    """A catalogue text as the user sees it (tags gone, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def t(app: Application, lang: str, key: str, **args: Any) -> str:
    return plain(app.translator.get(lang, key, **args))


async def grant(app: Application, user_id: int, credits: int) -> None:
    async with app.sessionmaker() as session:
        await users.get_or_create(session, user_id)
        await ledger.apply_movement(session, user_id, credits, MovementKind.GRANT)
        await session.commit()


async def balance(app: Application, user_id: int) -> int:
    async with app.sessionmaker() as session:
        return await ledger.balance(session, user_id)


async def room_row(app: Application) -> Room:
    async with app.sessionmaker() as session:
        room = await session.scalar(select(Room))
        assert room is not None
        return room


def answered(message: StoredMessage) -> bool:
    """A finished room answer carries the regenerate button."""
    return any(str(b.get("callback_data", "")).startswith("rm1:r:") for b in message.inline_buttons)


def join(group: Chat, *people: UserActor, status: str = "member") -> None:
    for person in people:
        rights = admin_rights(can_delete_messages=True) if status == "administrator" else {}
        group.members[person.id] = Member(person.user, status, rights)  # type: ignore[arg-type]


async def set_up_room(
    app: Application, emulator: BotAPIEmulator, master: UserActor, group: Chat
) -> StoredMessage:
    """The Master adds the bot (the setup offer appears) and presses "set up": the panel."""
    await master.add_bot_to_group(group)
    offer = await emulator.wait_for(
        lambda m: m.from_bot and bool(m.inline_buttons), chat=group
    )
    pressed = await master.press(offer, data=RoomPanelCD(action=PanelAction.SETUP, room=0).pack())
    assert pressed.answer is not None and not pressed.answer.show_alert
    await emulator.wait_until(lambda: bool(emulator.chat(group.id).messages[offer.message_id].edits))
    return emulator.chat(group.id).messages[offer.message_id]


async def ask_in(
    emulator: BotAPIEmulator,
    who: UserActor,
    group: Chat,
    text: str,
    *,
    thread_id: int | None = None,
) -> StoredMessage:
    """``/ask text`` in the group; the finished answer."""
    sent = await who.send_text(f"/ask {text}", chat=group, thread_id=thread_id)

    def done() -> StoredMessage | None:
        for m in emulator.messages(group, from_bot=True):
            reply = m.data.get("reply_to_message") or {}
            if reply.get("message_id") == sent.message_id and answered(m):
                return m
        return None

    found = await emulator.wait_until(done, timeout=20, what=f"room answer to {text!r}")
    assert isinstance(found, StoredMessage)
    return found


async def reply_of(
    emulator: BotAPIEmulator, group: Chat, sent: StoredMessage, timeout: float = 10
) -> StoredMessage:
    """The bot's first message in the group after ``sent``."""
    return await emulator.wait_for(lambda m: m.from_bot, timeout, chat=group, since=sent)


async def press_panel(
    who: UserActor, panel: StoredMessage, action: PanelAction, room: int, value: int = 0
) -> Any:
    return await who.press(
        panel, data=RoomPanelCD(action=action, room=room, value=value).pack()
    )


def forge_press(
    emulator: BotAPIEmulator, who: UserActor, message: StoredMessage, data: str
) -> Any:
    """A callback query with data no button of ``message`` carries (a crafted client)."""
    from tests.emulator.state import CallbackQuery

    query = CallbackQuery(
        id=emulator.state.next_query_id(),
        user_id=who.id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        data=data,
        created_at=emulator.clock.now(),
    )
    emulator.state.callback_queries[query.id] = query
    emulator.updates.push(
        {
            "callback_query": {
                "id": query.id,
                "from": who.user.to_api(),
                "message": emulator.chat(message.chat_id).messages[message.message_id].data,
                "chat_instance": "1",
                "data": data,
            }
        }
    )
    return query


# ---------------------------------------------------------------------- setup and hand-over


@LANGS
async def test_room_setup_and_hand_over(
    app: Application, emulator: BotAPIEmulator, lang: str
) -> None:
    owner = emulator.create_user("Oda", language_code=lang)
    heir = emulator.create_user("Hana", language_code=lang)
    other = emulator.create_user("Ken", language_code=lang)
    group = emulator.create_supergroup(owner=owner, title="Team")
    join(group, heir, other)
    await owner.add_bot_to_group(group)
    offer = await emulator.wait_for(
        lambda m: m.from_bot and bool(m.inline_buttons), chat=group
    )
    assert t(app, lang, "rooms-button-setup") in [b["text"] for b in offer.inline_buttons]
    # someone who neither created the group nor added the bot cannot become its Master
    refused = await other.press(offer, text=t(app, lang, "rooms-button-setup"))
    assert refused.answer is not None and refused.answer.show_alert
    assert refused.answer.text == t(app, lang, "rooms-setup-only")
    pressed = await owner.press(offer, text=t(app, lang, "rooms-button-setup"))
    assert pressed.answer is not None and pressed.answer.text == t(app, lang, "rooms-setup-done")
    room = await room_row(app)
    assert room.master_id == owner.id
    logged_line = t(app, lang, "rooms-panel-not-logged")
    await emulator.wait_until(
        lambda: logged_line in (emulator.chat(group.id).messages[offer.message_id].text or "")
    )

    # hand-over: the Master replies to the heir's message; only the heir can accept
    hello = await heir.send_text("hello", chat=group)
    ask = await owner.send_text("/room handover", chat=group, reply_to=hello)
    proposal = await reply_of(emulator, group, ask)
    assert "Hana" in (proposal.text or "")
    wrong = await other.press(proposal, text=t(app, lang, "rooms-button-accept"))
    assert wrong.answer is not None and wrong.answer.text == t(app, lang, "rooms-handover-not-you")
    assert (await room_row(app)).master_id == owner.id
    accepted = await heir.press(proposal, text=t(app, lang, "rooms-button-accept"))
    assert accepted.answer is not None
    assert accepted.answer.text == t(app, lang, "rooms-handover-done-short")
    assert (await room_row(app)).master_id == heir.id
    # the former Master stays as Admin, the heir's panel says Master
    sent = await owner.send_text("/room", chat=group)
    shown = await reply_of(emulator, group, sent)
    role_line = t(app, lang, "rooms-panel-your-role", role=t(app, lang, "rooms-role-admin"))
    assert role_line in (shown.text or "")
    sent = await heir.send_text("/room", chat=group)
    shown = await reply_of(emulator, group, sent)
    role_line = t(app, lang, "rooms-panel-your-role", role=t(app, lang, "rooms-role-master"))
    assert role_line in (shown.text or "")
    # the old Master can no longer hand it over
    sent = await owner.send_text("/room handover", chat=group, reply_to=hello)
    denied = await reply_of(emulator, group, sent)
    assert denied.text == t(app, lang, "rooms-denied", role=t(app, lang, "rooms-role-admin"))
