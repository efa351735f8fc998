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
from services.ai.catalogue import ProviderName
from services.crypto import GeneratedKey, KeyVersion
from services.crypto.sequoia_engine import SequoiaEngine
from services.rooms import RoomService
from services.rooms.config import RoomsSettings
from tests.e2e.test_chat import SERVER_KEY, USER_KEY, ai_settings, contents
from tests.e2e.test_logserver import FAST, onboard, open_all, posted_records, wait_records
from tests.emulator.actors import UserActor
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import Chat, Member, StoredMessage, admin_rights
from tests.fakes.ai_servers import FakeAnthropic, FakeOpenAI, Reply
from tests.harness import eventually, run_bot

LANGS = pytest.mark.parametrize("lang", ["ja", "en"])


@pytest.fixture
async def openai_fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(valid_keys=[SERVER_KEY, USER_KEY]) as fake:
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
        logserver=FAST,
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
        # SQLAlchemy's scalar() overloads lose the row type of a Select[Room] under mypy.
        room: Room | None = await session.scalar(select(Room))
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
    app: Application,
    emulator: BotAPIEmulator,
    master: UserActor,
    group: Chat,
    rights: dict[str, bool] | None = None,
) -> StoredMessage:
    """The Master adds the bot (the setup offer appears; as an admin of a forum, after /room)
    and presses "set up": the panel."""
    await master.add_bot_to_group(group, rights)
    if rights is not None:
        await master.send_text("/room", chat=group)
    offer = await emulator.wait_for(
        lambda m: m.from_bot and bool(m.inline_buttons), timeout=20, chat=group
    )
    pressed = await master.press(
        offer, data=RoomPanelCD(action=PanelAction.SETUP, room=0).pack(), timeout=20
    )
    assert pressed.answer is not None
    assert not pressed.answer.show_alert
    await emulator.wait_until(
        lambda: bool(emulator.chat(group.id).messages[offer.message_id].edits), timeout=20
    )
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
    emulator: BotAPIEmulator, group: Chat, sent: StoredMessage, timeout: float = 20
) -> StoredMessage:
    """The bot's first message in the group after ``sent``."""
    return await emulator.wait_for(lambda m: m.from_bot, timeout, chat=group, since=sent)


async def press_panel(
    emulator: BotAPIEmulator,
    who: UserActor,
    panel: StoredMessage,
    action: PanelAction,
    room: int,
    value: int = 0,
) -> Any:
    """Press a panel button, or one of its sub-menus' (as the client sends it); the query,
    once the bot has answered it."""
    data = RoomPanelCD(action=action, room=room, value=value).pack()
    show_button(emulator, panel, data)
    query = forge_press(emulator, who, panel, data)
    await emulator.wait_until(lambda: query.answer, timeout=20, what=f"answer to {data}")
    return query


def show_button(emulator: BotAPIEmulator, message: StoredMessage, data: str) -> None:
    """Put a button with ``data`` on the message as Telegram stores it (the sub-menu the press
    comes from): the bot refuses group presses whose data the message does not carry."""
    stored = emulator.chat(message.chat_id).messages[message.message_id]
    current = stored.data.get("reply_markup") or {}
    rows = [list(row) for row in current.get("inline_keyboard", [])]
    if not any(button.get("callback_data") == data for row in rows for button in row):
        rows.append([{"text": "·", "callback_data": data}])
    markup = {"inline_keyboard": rows}
    stored.data["reply_markup"] = markup
    stored.reply_markup = markup


def forge_press(emulator: BotAPIEmulator, who: UserActor, message: StoredMessage, data: str) -> Any:
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
        lambda m: m.from_bot and bool(m.inline_buttons), timeout=20, chat=group
    )
    assert t(app, lang, "rooms-button-setup") in [b["text"] for b in offer.inline_buttons]
    # someone who neither created the group nor added the bot cannot become its Master
    refused = await other.press(offer, text=t(app, lang, "rooms-button-setup"), timeout=20)
    assert refused.answer is not None
    assert refused.answer.show_alert
    assert refused.answer.text == t(app, lang, "rooms-setup-only")
    pressed = await owner.press(offer, text=t(app, lang, "rooms-button-setup"), timeout=20)
    assert pressed.answer is not None
    assert pressed.answer.text == t(app, lang, "rooms-setup-done")
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
    wrong = await other.press(proposal, text=t(app, lang, "rooms-button-accept"), timeout=20)
    assert wrong.answer is not None
    assert wrong.answer.text == t(app, lang, "rooms-handover-not-you")
    assert (await room_row(app)).master_id == owner.id
    accepted = await heir.press(proposal, text=t(app, lang, "rooms-button-accept"), timeout=20)
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


# ---------------------------------------------------------------------- roles


@LANGS
async def test_each_role_allowed_and_refused_including_a_forged_press(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI, lang: str
) -> None:
    master = emulator.create_user("Mei", language_code=lang)
    admin = emulator.create_user("Aki", language_code=lang)
    member = emulator.create_user("Ren", language_code=lang)
    reader = emulator.create_user("Yui", language_code=lang)
    guest = emulator.create_user("Sora", language_code=lang)
    group = emulator.create_supergroup(owner=master, title="Club")
    join(group, member, reader, guest)
    await grant(app, master.id, 1000)
    panel = await set_up_room(app, emulator, master, group)
    room = await room_row(app)
    # a Telegram admin who became one after the setup still starts as Admin
    join(group, admin, status="administrator")

    async def said(who: UserActor, text: str, *, reply_to: StoredMessage | None = None) -> str:
        sent = await who.send_text(text, chat=group, reply_to=reply_to)
        return (await reply_of(emulator, group, sent)).text or ""

    def denied(role: str) -> str:
        return t(app, lang, "rooms-denied", role=t(app, lang, f"rooms-role-{role}"))

    # the Master ranks people by replying to them
    hi_reader = await reader.send_text("hi", chat=group)
    assert await said(master, "/role reader", reply_to=hi_reader) == t(
        app, lang, "rooms-role-set", name="Yui", role=t(app, lang, "rooms-role-reader")
    )
    hi_guest = await guest.send_text("hi", chat=group)
    await said(master, "/role guest", reply_to=hi_guest)

    # Reader: may not ask, may not touch settings — by command, by button, by a forged press
    requests = len(openai_fake.stream_requests)
    assert await said(reader, "/ask what is up?") == denied("reader")
    pressed = await press_panel(emulator, reader, panel, PanelAction.MODEL, room.id)
    assert pressed.answer.show_alert
    assert pressed.answer.text == denied("reader")
    # forged data no button of the panel carries: refused before any role check
    forged = RoomPanelCD(action=PanelAction.BUDGET_SET, room=room.id, value=100).pack()
    query = forge_press(emulator, reader, panel, forged)
    await emulator.wait_until(lambda: query.answer, timeout=20)
    assert query.answer.show_alert
    assert query.answer.text == t(app, lang, "error-button-expired")
    assert (await room_row(app)).daily_budget == 0
    assert len(openai_fake.stream_requests) == requests

    # Member: asks; may not change the model, start over, or rank others
    openai_fake.queue(Reply("Member answer."))
    answer = await ask_in(emulator, member, group, "hello")
    assert answer.text == "Member answer."
    pressed = await press_panel(emulator, member, panel, PanelAction.MODEL, room.id)
    assert pressed.answer.text == denied("member")
    assert await said(member, "/new") == denied("member")
    assert await said(member, "/role reader", reply_to=hi_guest) == denied("member")

    # Guest: asks within the quota; not at all once the room says Guests may not ask
    openai_fake.queue(Reply("Guest answer."))
    assert (await ask_in(emulator, guest, group, "may I?")).text == "Guest answer."

    # Admin (a Telegram chat admin): changes the model and settings, starts over, ranks members,
    # but cannot set the budget (the Master's credits pay)
    pressed = await press_panel(emulator, admin, panel, PanelAction.MODEL_SET, room.id, value=0)
    assert pressed.answer.text == t(app, lang, "rooms-saved")
    pressed = await press_panel(emulator, admin, panel, PanelAction.GUESTS, room.id)
    assert pressed.answer.text == t(app, lang, "rooms-saved")
    assert not (await room_row(app)).guests_may_ask
    assert await said(guest, "/ask again?") == t(app, lang, "rooms-refused-guests-off")
    pressed = await press_panel(emulator, admin, panel, PanelAction.BUDGET_SET, room.id, value=100)
    assert pressed.answer.text == denied("admin")
    assert await said(admin, "/new") == t(app, lang, "rooms-new-done")
    assert await said(admin, "/role member", reply_to=hi_reader) == t(
        app, lang, "rooms-role-set", name="Yui", role=t(app, lang, "rooms-role-member")
    )
    # an Admin cannot make Admins or touch the Master
    assert await said(admin, "/role admin", reply_to=hi_reader) == t(
        app, lang, "rooms-role-refused", role=t(app, lang, "rooms-role-member")
    )
    # Master: sets the budget
    pressed = await press_panel(emulator, master, panel, PanelAction.BUDGET_SET, room.id, value=100)
    assert pressed.answer.text == t(app, lang, "rooms-saved")
    assert (await room_row(app)).daily_budget == 100
    # a button from another room (or a made-up room id) is refused, even when the message
    # carries it
    other_room = RoomPanelCD(action=PanelAction.HOME, room=room.id + 7).pack()
    show_button(emulator, panel, other_room)
    query = forge_press(emulator, master, panel, other_room)
    await emulator.wait_until(lambda: query.answer, timeout=20)
    assert query.answer.text == t(app, lang, "rooms-button-stale")


# ---------------------------------------------------------------------- budget


@LANGS
async def test_budget_and_cap_exhausted_answer_clearly_and_charge_nothing(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI, lang: str
) -> None:
    master = emulator.create_user("Jun", language_code=lang)
    alice = emulator.create_user("Alice", language_code=lang)
    bob = emulator.create_user("Bob", language_code=lang)
    group = emulator.create_supergroup(owner=master, title="Budget")
    join(group, alice, bob)
    await grant(app, master.id, 1000)
    panel = await set_up_room(app, emulator, master, group)
    room = await room_row(app)
    await press_panel(emulator, master, panel, PanelAction.CAP_SET, room.id, value=100)

    # 1M input tokens at 150 + 10 output tokens at 600 per million: 151 credits
    openai_fake.queue(Reply("Expensive.", input_tokens=1_000_000, output_tokens=10))
    await ask_in(emulator, alice, group, "first")
    assert await balance(app, master.id) == 1000 - 151
    requests = len(openai_fake.stream_requests)

    # Alice's cap is used up: refused before the model, nothing charged
    sent = await alice.send_text("/ask second", chat=group)
    refused = await reply_of(emulator, group, sent)
    assert refused.text == t(app, lang, "rooms-refused-member-cap", used=151, allowed=100)
    assert len(openai_fake.stream_requests) == requests
    assert await balance(app, master.id) == 1000 - 151

    # Bob still has his own cap; then the room's budget is used up for everyone
    await press_panel(emulator, master, panel, PanelAction.BUDGET_SET, room.id, value=100)
    sent = await bob.send_text("/ask third", chat=group)
    refused = await reply_of(emulator, group, sent)
    assert refused.text == t(app, lang, "rooms-refused-room-budget", used=151, allowed=100)
    assert len(openai_fake.stream_requests) == requests
    assert await balance(app, master.id) == 1000 - 151

    # without a budget, the Master's empty balance refuses the same way
    await press_panel(emulator, master, panel, PanelAction.BUDGET_SET, room.id, value=0)
    async with app.sessionmaker() as session:
        await ledger.apply_movement(session, master.id, -849, MovementKind.GRANT, "drain")
        await session.commit()
    sent = await bob.send_text("/ask fourth", chat=group)
    refused = await reply_of(emulator, group, sent)
    assert refused.text is not None
    assert refused.text.startswith(
        t(app, lang, "rooms-refused-no-credits", needed=1, balance=0)[:12]
    )
    assert len(openai_fake.stream_requests) == requests
    assert await balance(app, master.id) == 0
    async with app.sessionmaker() as session:
        settled = await session.scalar(
            select(func.count()).select_from(AIUsage).where(AIUsage.status == "settled")
        )
    assert settled == 1

    # a member who brought their own key is answered with it: it costs neither the Master nor
    # the room's budget
    async with app.sessionmaker() as session:
        await rooms_of(app).ai.preferences.add_key(session, bob.id, ProviderName.OPENAI, USER_KEY)
        await session.commit()
    openai_fake.queue(Reply("On my key.", input_tokens=1_000_000, output_tokens=10))
    assert (await ask_in(emulator, bob, group, "fifth")).text == "On my key."
    assert openai_fake.stream_requests[-1].api_key == USER_KEY
    assert await balance(app, master.id) == 0


# ---------------------------------------------------------------------- private mode


@LANGS
async def test_private_mode_for_someone_who_started_the_bot_and_someone_who_did_not(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI, lang: str
) -> None:
    master = emulator.create_user("Kai", language_code=lang)
    started = emulator.create_user("Rin", language_code=lang, started_bot=True)
    stranger = emulator.create_user("Nao", language_code=lang)
    group = emulator.create_supergroup(owner=master, title="Quiet")
    join(group, started, stranger)
    await grant(app, master.id, 1000)
    await set_up_room(app, emulator, master, group)
    in_group = len(emulator.messages(group, from_bot=True))

    openai_fake.queue(Reply("Just for you."))
    await started.send_text("/private what did I miss?", chat=group)
    private = await emulator.wait_for(
        lambda m: m.from_bot and m.text == "Just for you.", timeout=15, chat=started.chat
    )
    assert private.chat_id == started.id
    # the room saw nothing of it, and its context did not take it in
    assert len(emulator.messages(group, from_bot=True)) == in_group
    assert "Rin: what did I miss?" in contents(openai_fake.stream_requests[-1])
    requests = len(openai_fake.stream_requests)
    balance_after = await balance(app, master.id)

    sent = await stranger.send_text("/private a secret question", chat=group)
    hint = await reply_of(emulator, group, sent)
    username = emulator.bot_user.username or ""
    assert hint.text == t(app, lang, "rooms-private-start", bot=username)
    assert hint.inline_buttons[0]["url"] == f"https://t.me/{username}?start=room"
    # nothing was asked of the model, nothing charged
    assert len(openai_fake.stream_requests) == requests
    assert await balance(app, master.id) == balance_after
    assert emulator.messages(stranger.chat, from_bot=True) == []


# ---------------------------------------------------------------------- regenerate


@LANGS
async def test_regenerate_replaces_the_answer_in_place_and_keeps_the_order(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI, lang: str
) -> None:
    master = emulator.create_user("Tomo", language_code=lang)
    member = emulator.create_user("Eri", language_code=lang)
    group = emulator.create_supergroup(owner=master, title="Order")
    join(group, member)
    await grant(app, master.id, 1000)
    await set_up_room(app, emulator, master, group)
    openai_fake.queue(Reply("One."), Reply("Two."))
    first = await ask_in(emulator, member, group, "first")
    second = await ask_in(emulator, master, group, "second")

    # a Member regenerates their own answers (Admins and up: anyone's)
    openai_fake.queue(Reply("One, again."))
    pressed = await member.press(first, text=t(app, lang, "rooms-button-regenerate"), timeout=20)
    assert pressed.answer is not None
    assert pressed.answer.text == t(app, lang, "rooms-regenerating")
    await emulator.wait_until(
        lambda: (
            emulator.chat(group.id).messages[first.message_id].text == "One, again."
            and answered(emulator.chat(group.id).messages[first.message_id])
        ),
        timeout=15,
    )
    # the model saw only what came before the first exchange
    assert contents(openai_fake.stream_requests[-1])[1:] == ["Eri: first"]
    # same message, nothing new in the group, the second answer untouched
    assert emulator.chat(group.id).messages[second.message_id].text == "Two."
    finals = [m for m in emulator.messages(group, from_bot=True) if answered(m)]
    assert [m.message_id for m in finals] == [first.message_id, second.message_id]

    requests = len(openai_fake.stream_requests)
    other = await member.press(second, text=t(app, lang, "rooms-button-regenerate"), timeout=20)
    assert other.answer is not None
    assert other.answer.show_alert
    assert other.answer.text == t(app, lang, "rooms-denied", role=t(app, lang, "rooms-role-member"))
    assert len(openai_fake.stream_requests) == requests

    # the next question sees the conversation in its order, with the new first answer
    openai_fake.queue(Reply("Three."))
    await ask_in(emulator, member, group, "third")
    assert contents(openai_fake.stream_requests[-1])[1:] == [
        "Eri: first",
        "One, again.",
        "Tomo: second",
        "Two.",
        "Eri: third",
    ]
    assert len(openai_fake.stream_requests) == requests + 1


# ---------------------------------------------------------------------- forum topics


@LANGS
async def test_each_forum_topic_has_its_own_context(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI, lang: str
) -> None:
    master = emulator.create_user("Gen", language_code=lang)
    group = emulator.create_supergroup(owner=master, title="Forum", is_forum=True)
    await grant(app, master.id, 1000)
    await set_up_room(app, emulator, master, group, admin_rights(can_manage_topics=True))
    ideas = (await app.bot.create_forum_topic(chat_id=group.id, name="Ideas")).message_thread_id
    bugs = (await app.bot.create_forum_topic(chat_id=group.id, name="Bugs")).message_thread_id

    openai_fake.queue(Reply("Idea noted."), Reply("Bug noted."), Reply("Second idea."))
    a = await ask_in(emulator, master, group, "an idea", thread_id=ideas)
    assert a.thread_id == ideas
    b = await ask_in(emulator, master, group, "a bug", thread_id=bugs)
    assert b.thread_id == bugs
    assert contents(openai_fake.stream_requests[-1])[1:] == ["Gen: a bug"]
    await ask_in(emulator, master, group, "another idea", thread_id=ideas)
    assert contents(openai_fake.stream_requests[-1])[1:] == [
        "Gen: an idea",
        "Idea noted.",
        "Gen: another idea",
    ]
    # /new clears only the topic it is sent in
    sent = await master.send_text("/new", chat=group, thread_id=ideas)
    done = await reply_of(emulator, group, sent)
    assert done.text == t(app, lang, "rooms-new-done")
    openai_fake.queue(Reply("Fresh."), Reply("Still there."))
    await ask_in(emulator, master, group, "fresh start", thread_id=ideas)
    assert contents(openai_fake.stream_requests[-1])[1:] == ["Gen: fresh start"]
    await ask_in(emulator, master, group, "and bugs?", thread_id=bugs)
    assert contents(openai_fake.stream_requests[-1])[1:] == [
        "Gen: a bug",
        "Bug noted.",
        "Gen: and bugs?",
    ]


# ---------------------------------------------------------------------- flood limits


@LANGS
async def test_five_members_asking_at_once_queue_politely_without_429(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI, lang: str
) -> None:
    master = emulator.create_user("Hiro", language_code=lang)
    people = [emulator.create_user(f"P{i}", language_code=lang) for i in range(5)]
    group = emulator.create_supergroup(owner=master, title="Busy")
    join(group, *people)
    await grant(app, master.id, 1000)
    await set_up_room(app, emulator, master, group)
    emulator.limits.enabled = True
    words = [f"Answer number {i} has several words to stream." for i in range(5)]
    openai_fake.queue(*(Reply(w, delay=0.05) for w in words))
    sent = await asyncio.gather(
        *(p.send_text(f"/ask question {i}", chat=group) for i, p in enumerate(people))
    )
    ids = {m.message_id for m in sent}

    def finals() -> list[StoredMessage] | None:
        done = [
            m
            for m in emulator.messages(group, from_bot=True)
            if answered(m) and (m.data.get("reply_to_message") or {}).get("message_id") in ids
        ]
        return done if len(done) == 5 else None

    done = await emulator.wait_until(finals, timeout=60, what="five answers")
    texts = [m.text for m in done if m.text is not None]  # a text-less answer fails the length
    assert sorted(texts) == sorted(words)
    assert emulator.errors(429) == []
    # the ones who waited saw it: their answer took the place of a "waiting" note
    waiting = plain(app.translator.get(lang, "rooms-waiting", ahead=1)).split("1")[0]
    noted = [m for m in done if any(waiting in (e.get("text") or "") for e in m.edits)]
    assert len(noted) >= 1


# ---------------------------------------------------------------------- exclude, usage, trigger


@LANGS
async def test_exclude_usage_and_the_every_message_trigger(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI, lang: str
) -> None:
    master = emulator.create_user("Ayu", language_code=lang)
    member = emulator.create_user("Kou", language_code=lang)
    other = emulator.create_user("Mio", language_code=lang)
    reader = emulator.create_user("Sho", language_code=lang)
    group = emulator.create_supergroup(owner=master, title="Mixed")
    join(group, member, other, reader)
    await grant(app, master.id, 1000)
    panel = await set_up_room(app, emulator, master, group)
    room = await room_row(app)
    openai_fake.queue(Reply("Kou's answer."), Reply("Mio's answer."))
    mine = await ask_in(emulator, member, group, "mine")
    theirs = await ask_in(emulator, other, group, "theirs")
    drop = t(app, lang, "rooms-button-exclude")

    # excluding: its asker may, someone else (a Member) may not, an Admin or the Master may
    refused = await member.press(theirs, text=drop, timeout=20)
    assert refused.answer is not None
    assert refused.answer.text == t(
        app, lang, "rooms-denied", role=t(app, lang, "rooms-role-member")
    )
    done = await member.press(mine, text=drop, timeout=20)
    assert done.answer is not None
    assert done.answer.text == t(app, lang, "rooms-excluded")
    done = await master.press(theirs, text=drop, timeout=20)
    assert done.answer is not None
    assert done.answer.text == t(app, lang, "rooms-excluded")
    openai_fake.queue(Reply("Clean."))
    await ask_in(emulator, member, group, "what was said?")
    assert contents(openai_fake.stream_requests[-1])[1:] == ["Kou: what was said?"]

    # usage: the Master sees everyone, a Member only themselves
    sent = await master.send_text("/room usage", chat=group)
    everyone = (await reply_of(emulator, group, sent)).text or ""
    assert "Kou" in everyone
    assert "Mio" in everyone
    sent = await member.send_text("/room usage", chat=group)
    own = (await reply_of(emulator, group, sent)).text or ""
    assert "Kou" in own
    assert "Mio" not in own

    # every message: the room answers what it sees without a mention; a Reader's chatter is
    # not a question (no refusal either)
    hi = await reader.send_text("hi", chat=group)
    await master.send_text("/role reader", chat=group, reply_to=hi)
    await press_panel(emulator, master, panel, PanelAction.TRIGGER, room.id)
    assert (await room_row(app)).trigger == "all"
    await master.promote_bot(group, admin_rights(can_delete_messages=True))
    requests = len(openai_fake.stream_requests)
    chatter = await reader.send_text("just chatting", chat=group)
    openai_fake.queue(Reply("Heard you."))
    plain_question = await member.send_text("no mention needed?", chat=group)
    answer = await emulator.wait_for(
        lambda m: (
            m.from_bot
            and answered(m)
            and (m.data.get("reply_to_message") or {}).get("message_id")
            == plain_question.message_id
        ),
        timeout=15,
        chat=group,
    )
    assert answer.text == "Heard you."
    assert len(openai_fake.stream_requests) == requests + 1
    assert not any(
        (m.data.get("reply_to_message") or {}).get("message_id") == chatter.message_id
        for m in emulator.messages(group, from_bot=True)
    )


@LANGS
async def test_stop_on_a_private_room_answer(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI, lang: str
) -> None:
    master = emulator.create_user("Ryo", language_code=lang, started_bot=True)
    group = emulator.create_supergroup(owner=master, title="Stop")
    await grant(app, master.id, 1000)
    await set_up_room(app, emulator, master, group)
    openai_fake.queue(Reply("word " * 400, delay=0.05))
    await master.send_text("/private a long one", chat=group)
    await emulator.wait_until(lambda: emulator.drafts(master.chat) or None, timeout=15)
    await master.stop_generation()
    final = await emulator.wait_for(
        lambda m: m.from_bot and (m.text or "").startswith("word"), timeout=15, chat=master.chat
    )
    assert plain(app.translator.get(lang, "chat-stopped-suffix")).strip("_") in (final.text or "")
    assert len((final.text or "").split()) < 400


# ---------------------------------------------------------------------- logging


@pytest.fixture(scope="module")
def master_key() -> GeneratedKey:
    return SequoiaEngine().generate_key("Room master", version=KeyVersion.V4, passphrase="pw")


@LANGS
async def test_room_exchanges_go_to_the_masters_rooms_topic(
    app: Application,
    emulator: BotAPIEmulator,
    openai_fake: FakeOpenAI,
    master_key: GeneratedKey,
    lang: str,
) -> None:
    key = master_key
    # the log server onboarding helper speaks English; the member sees the room in ``lang``
    master = emulator.create_user("Nori", language_code="en")
    member = emulator.create_user("Emi", language_code=lang)
    logs = await onboard(app, emulator, master, key)
    rooms_topic = app.translator.get("en", "logserver-topic-rooms")
    assert rooms_topic not in {t.name for t in logs.topics.values()}  # made on demand only
    group = emulator.create_supergroup(owner=master, title="Logged")
    join(group, member)
    await grant(app, master.id, 1000)
    await set_up_room(app, emulator, master, group)
    sent = await member.send_text("/room", chat=group)
    panel = await reply_of(emulator, group, sent)
    assert t(app, lang, "rooms-panel-logged") in (panel.text or "")
    openai_fake.queue(Reply("Logged answer."))
    await ask_in(emulator, member, group, "is this logged?")
    await wait_records(app, emulator, logs, 2)
    topic = next(t for t in logs.topics.values() if t.name == rooms_topic)
    in_topic = [p for p in posted_records(emulator, logs) if p.message.thread_id == topic.thread_id]
    (opened,) = open_all(app, key, in_topic)
    assert opened.ok
    assert opened.record.kind == "rooms"
    assert opened.record.body["prompt"] == "is this logged?"
    assert opened.record.body["reply"] == "Logged answer."
    assert opened.record.body["name"] == "Emi"


async def test_a_question_handled_again_after_a_killed_instance_is_charged_once(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    """The instance died after the answer went out but before the update was marked done: its
    `upd:` key is gone (lease ran out) and Telegram delivers the update again. The question may
    be answered twice; the Master pays once (docs/architecture.md, guarantees table)."""
    master = emulator.create_user("Ken", language_code="en")
    member = emulator.create_user("Mio", language_code="en")
    group = emulator.create_supergroup(owner=master, title="Once")
    join(group, member)
    await grant(app, master.id, 1000)
    await set_up_room(app, emulator, master, group)
    # 1M input tokens at 150 + 10 output tokens at 600 per million: 151 credits
    openai_fake.default = Reply("Once.", input_tokens=1_000_000, output_tokens=10)
    await ask_in(emulator, member, group, "how much?")
    assert await balance(app, master.id) == 1000 - 151
    update = emulator.updates.history[-1]
    question_id = update["message"]["message_id"]

    key = f"upd:{update['update_id']}"
    # The answer is visible before its update is marked done: wait for "done", or the delete
    # below would race the bot's own mark and the copy would be skipped.

    async def marked_done() -> bool:
        return await app.state.get(key) == "done"

    await eventually(marked_done, "the update marked done", timeout=20)
    await app.state.delete(key)  # what a killed holder leaves
    emulator.updates.redeliver(update["update_id"])

    def answered_twice() -> bool | None:
        replies = [
            m
            for m in emulator.messages(group, from_bot=True)
            if (m.data.get("reply_to_message") or {}).get("message_id") == question_id
            and answered(m)
        ]
        return len(replies) >= 2 or None

    await emulator.wait_until(answered_twice, timeout=20, what="the question answered again")
    async with app.sessionmaker() as session:

        async def settled() -> bool:
            statuses = (await session.scalars(select(AIUsage.status))).all()
            return statuses.count("settled") == 2

        await eventually(settled, "both answers settled", timeout=20)
        assert await ledger.reconcile(session) == []
    assert await balance(app, master.id) == 1000 - 151
