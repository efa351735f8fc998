"""Concierge end to end, in Japanese and English: the real application against the Bot API
emulator; an operator links the staff desk, staff make personas and answer from the desk's topics,
users pay per message; the AI drafts come from the real OpenAI SDK against a local fake.

Every test that relays asserts on every call the bot made into the desk that no user identity
(Telegram id, first or last name, username) appears there.
"""

from __future__ import annotations

import asyncio
import html
import io
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.app import Application
from bot.db.models import CreditMovement, MovementKind, User, UserRole
from bot.db.models.concierge import (
    ConciergePersona,
    ConciergeRelay,
    ConciergeSession,
    RelayDirection,
    RelayState,
    SessionState,
)
from bot.settings import Settings
from keyboards.concierge import (
    REQUEST_DESK,
    ConciergeUserCD,
    DeskAction,
    DeskCD,
    StaffAction,
    StaffCD,
    UserAction,
)
from services import ledger, users
from services.concierge.desk import Badge
from tests.e2e.test_chat import ai_settings
from tests.e2e.test_logserver import FAST, gpg, gpg_home, posted_records
from tests.e2e.test_rooms import anthropic_fake, openai_fake
from tests.emulator.actors import UserActor
from tests.emulator.errors import bad_request
from tests.emulator.registry import Call
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import Chat, Member, StoredMessage
from tests.fakes.ai_servers import Fail, FakeAnthropic, FakeOpenAI, Reply
from tests.harness import eventually, run_bot

# Fixtures shared with the other e2e modules.
__all__ = ["anthropic_fake", "gpg_home", "openai_fake"]

LANGS = pytest.mark.parametrize("lang", ["ja", "en"])
OPERATOR_ID = 880_000_001
STAFF_ID = 880_000_002
# Distinctive, so that any trace of them in the desk is found.
SECRET_FIRST, SECRET_LAST, SECRET_USERNAME = "Zephyrine", "Quibbleton", "zq_hidden_person"
SECRET_ID = 917_364_825


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], openai_fake: FakeOpenAI, anthropic_fake: FakeAnthropic
) -> Settings:
    return make_settings(
        ai=ai_settings(openai_fake, anthropic_fake),
        logserver=FAST,
        admin_ids=frozenset({OPERATOR_ID}),
    )


@pytest.fixture
async def app(emulator: BotAPIEmulator, settings: Settings) -> AsyncIterator[Application]:
    async with run_bot(emulator, settings) as running:
        yield running


# ---------------------------------------------------------------------- helpers


def plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def t(app: Application, lang: str, key: str, **args: Any) -> str:
    return plain(app.translator.get(lang, key, **args))


def desk_t(app: Application, key: str, **args: Any) -> str:
    """A desk text: the desk speaks the operators' default language."""
    return t(app, app.settings.default_locale, key, **args)


async def says(
    emulator: BotAPIEmulator,
    chat: Chat | UserActor,
    text: str,
    since: StoredMessage | None = None,
    thread_id: int | None = None,
) -> StoredMessage:
    target = chat.chat if isinstance(chat, UserActor) else chat

    def match(m: StoredMessage) -> bool:
        if not m.from_bot or text not in plain(m.text or m.caption or ""):
            return False
        return thread_id is None or m.thread_id == thread_id

    return await emulator.wait_for(match, 60, chat=target, since=since)


def secret_user(emulator: BotAPIEmulator, lang: str) -> UserActor:
    return emulator.create_user(
        SECRET_FIRST,
        last_name=SECRET_LAST,
        username=SECRET_USERNAME,
        language_code=lang,
        user_id=SECRET_ID,
    )


async def grant(app: Application, user_id: int, credits: int) -> None:
    async with app.sessionmaker() as session:
        await users.get_or_create(session, user_id)
        await ledger.apply_movement(session, user_id, credits, MovementKind.GRANT)
        await session.commit()


async def balance(app: Application, user_id: int) -> int:
    async with app.sessionmaker() as session:
        return await ledger.balance(session, user_id)


async def make_staff(app: Application, user_id: int) -> None:
    async with app.sessionmaker() as session:
        row = await users.get_or_create(session, user_id)
        row.role = UserRole.STAFF
        await session.commit()


async def link_desk(app: Application, emulator: BotAPIEmulator, operator: UserActor) -> Chat:
    sent = await operator.send_text("/concierge")
    menu = await operator.wait_reply(after=sent, timeout=60)
    await operator.press(menu, data=StaffCD(action=StaffAction.LINK_DESK).pack(), timeout=30)
    lang = operator.user.language_code or "en"
    await says(emulator, operator, t(app, lang, "concierge-desk-intro"), since=menu)
    desk = emulator.create_supergroup(operator, "Staff desk", is_forum=True)
    await operator.share_chat(REQUEST_DESK, desk)
    await says(emulator, operator, t(app, lang, "concierge-desk-linked", title="Staff desk"))
    return desk


def join(desk: Chat, *people: UserActor) -> None:
    for person in people:
        desk.members[person.id] = Member(person.user, "member")


def avatar_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


async def create_persona(
    app: Application,
    emulator: BotAPIEmulator,
    staff: UserActor,
    *,
    name: str = "Mika",
    price: int = 2,
    avatar: bool = False,
) -> int:
    """The staff flow: /concierge → New persona → name, bio, traits, price, avatar."""
    lang = staff.user.language_code or "en"
    sent = await staff.send_text("/concierge")
    menu = await staff.wait_reply(after=sent, timeout=60)
    await staff.press(menu, data=StaffCD(action=StaffAction.NEW_PERSONA).pack(), timeout=30)
    last = await says(emulator, staff, t(app, lang, "concierge-ask-persona-name"), since=menu)
    for answer, next_key in (
        (name, "concierge-ask-persona-bio"),
        (f"{name} loves tea and old films.", "concierge-ask-persona-attributes"),
        ("cheerful, polite", "concierge-ask-persona-price"),
    ):
        await staff.send_text(answer)
        last = await says(emulator, staff, t(app, lang, next_key, max=1000), since=last)
    await staff.send_text(str(price))
    ask = await says(emulator, staff, t(app, lang, "concierge-ask-persona-avatar"), since=last)
    if avatar:
        await staff.send_photo(avatar_png())
    else:
        await staff.press(ask, data=StaffCD(action=StaffAction.SKIP_AVATAR).pack(), timeout=30)
    saved = t(app, lang, "concierge-persona-saved", name=name, price=price, link="")
    await says(emulator, staff, saved.split(":")[0].split("：")[0], since=ask)
    async with app.sessionmaker() as session:
        persona_id = await session.scalar(
            select(ConciergePersona.id).where(ConciergePersona.name == name)
        )
        assert persona_id is not None
        return persona_id


async def current_session(app: Application, user_id: int) -> ConciergeSession | None:
    async with app.sessionmaker() as session:
        row: ConciergeSession | None = await session.scalar(
            select(ConciergeSession)
            .where(ConciergeSession.user_id == user_id)
            .order_by(ConciergeSession.id.desc())
        )
        return row


async def open_session(
    app: Application,
    emulator: BotAPIEmulator,
    user: UserActor,
    persona_id: int,
    *,
    persona: str = "Mika",
    price: int = 2,
    name: str | None = "Haru",
) -> int:
    """The deep link, then the name: the session's topic id."""
    lang = user.user.language_code or "en"
    sent = await user.send_text(f"/start p_{persona_id}")
    await says(
        emulator, user, t(app, lang, "concierge-opened", persona=persona, price=price), since=sent
    )
    if name is not None:
        asked = await user.send_text(name)
        await says(emulator, user, t(app, lang, "concierge-name-saved", name=name), since=asked)
    else:
        prompt = await says(
            emulator, user, t(app, lang, "concierge-opened", persona=persona, price=price)
        )
        await user.press(prompt, data=ConciergeUserCD(action=UserAction.SKIP_NAME).pack())
        await says(emulator, user, t(app, lang, "concierge-name-skipped"), since=prompt)
    row = await current_session(app, user.id)
    assert row is not None
    assert row.thread_id is not None
    return row.thread_id


async def in_topic(
    emulator: BotAPIEmulator, desk: Chat, thread_id: int, count: int
) -> list[StoredMessage]:
    """Wait until the bot posted `count` messages into the topic."""

    def enough() -> list[StoredMessage] | None:
        found = relayed(emulator, desk, thread_id)
        return found if len(found) >= count else None

    return await emulator.wait_until(enough, 60, what=f"{count} bot messages in the topic")


def relayed(emulator: BotAPIEmulator, desk: Chat, thread_id: int) -> list[StoredMessage]:
    """The bot's messages in the topic (not the service messages of a topic made or renamed)."""
    kinds = ("text", "photo", "sticker")
    return [
        m
        for m in emulator.messages(desk, thread_id=thread_id, from_bot=True)
        if any(k in m.data for k in kinds)
    ]


def assert_no_identity(emulator: BotAPIEmulator, desk: Chat, *people: UserActor) -> None:
    """On every call the bot made into the desk, and on every message there."""
    calls = [c for c in emulator.calls if str(c.params.get("chat_id")) == str(desk.id)]
    assert calls
    for call in calls:
        blob = json.dumps(call.params, ensure_ascii=False) + json.dumps(
            call.result, ensure_ascii=False, default=str
        )
        for person in people:
            user = person.user
            for value in (str(user.id), user.first_name, user.last_name, user.username):
                if value:
                    assert value not in blob, f"{call.method} shows {value!r}"
    for message in emulator.messages(desk, from_bot=True):
        assert "forward_origin" not in message.data


def topic_name(emulator: BotAPIEmulator, desk: Chat, thread_id: int) -> str:
    return emulator.chat(desk.id).topics[thread_id].name


async def press_in_topic(
    staff: UserActor, message: StoredMessage, action: DeskAction, session_id: int, ref: int = 0
) -> str:
    pressed = await staff.press(
        message, data=DeskCD(action=action, session=session_id, ref=ref).pack(), timeout=60
    )
    assert pressed.answer is not None
    return pressed.answer.text or ""


async def setup_desk(
    app: Application, emulator: BotAPIEmulator, lang: str
) -> tuple[UserActor, UserActor, Chat]:
    operator = emulator.create_user("Ops", language_code=lang, user_id=OPERATOR_ID)
    staff = emulator.create_user("Sana", language_code=lang, user_id=STAFF_ID)
    await staff.send_text("/start")
    await staff.wait_reply(timeout=60)
    await make_staff(app, staff.id)
    desk = await link_desk(app, emulator, operator)
    join(desk, staff)
    return operator, staff, desk


# ---------------------------------------------------------------------- staff and personas


@LANGS
async def test_staff_create_a_persona_users_list_it_and_the_operator_grants_the_role(
    app: Application, emulator: BotAPIEmulator, lang: str
) -> None:
    from tests.e2e.test_admin import open_panel

    operator = emulator.create_user("Ops", language_code=lang, user_id=OPERATOR_ID)
    staff = emulator.create_user("Sana", language_code=lang, user_id=STAFF_ID, username="sana_s")
    await staff.send_text("/start")
    await staff.wait_reply(timeout=60)
    # Not staff yet: /concierge is an unknown command.
    sent = await staff.send_text("/concierge")
    refused = await staff.wait_reply(after=sent, timeout=60)
    assert refused.text == t(app, lang, "error-unknown-command", command="/concierge")

    # The operator gives the role from the admin panel's user card.
    panel = await open_panel(emulator, operator, lang)
    await panel.press("admin-btn-users")
    await panel.reply("@sana_s")
    await emulator.wait_until(lambda: str(staff.id) in panel.text, timeout=60, what="user card")
    alert = await panel.press("concierge-btn-staff-role")
    assert alert == t(app, lang, "concierge-role-granted", id=str(staff.id))

    async def is_staff() -> bool:
        async with app.sessionmaker() as session:
            row = await session.get(User, staff.id)
            return row is not None and row.role is UserRole.STAFF

    await eventually(is_staff, "the staff role committed")

    persona_id = await create_persona(app, emulator, staff, avatar=True)
    user = emulator.create_user("Aiko", language_code=lang)
    sent = await user.send_text("/personas")
    card = await emulator.wait_for(
        lambda m: m.from_bot and "photo" in m.data, 60, chat=user.chat, since=sent
    )
    assert "Mika" in (card.caption or "")
    assert card.button(data=ConciergeUserCD(action=UserAction.CHAT, ref=persona_id).pack())

    # Switched off: gone from /personas, and the deep link says so.
    menu_sent = await staff.send_text("/concierge")
    menu = await staff.wait_reply(after=menu_sent, timeout=60)
    await staff.press(menu, data=StaffCD(action=StaffAction.PERSONAS).pack(), timeout=30)
    listing = await says(emulator, staff, t(app, lang, "concierge-staff-personas", count=1))
    await staff.press(
        listing, data=StaffCD(action=StaffAction.TOGGLE_PERSONA, ref=persona_id).pack()
    )
    await says(emulator, staff, t(app, lang, "concierge-persona-off", name="Mika"))
    sent = await user.send_text("/personas")
    await says(emulator, user, t(app, lang, "concierge-no-personas"), since=sent)
    sent = await user.send_text(f"/start p_{persona_id}")
    await says(emulator, user, t(app, lang, "concierge-start-inactive"), since=sent)

    # The operator takes the role back.
    alert = await panel.press("concierge-btn-staff-role")
    assert alert == t(app, lang, "concierge-role-revoked", id=str(staff.id))


@LANGS
async def test_bad_deep_links_and_no_desk_open_nothing(
    app: Application, emulator: BotAPIEmulator, lang: str
) -> None:
    staff = emulator.create_user("Sana", language_code=lang, user_id=STAFF_ID)
    await staff.send_text("/start")
    await staff.wait_reply(timeout=60)
    await make_staff(app, staff.id)
    persona_id = await create_persona(app, emulator, staff)
    user = emulator.create_user("Aiko", language_code=lang)
    for link in ("p_999999", "p_x", f"p_{persona_id}0000"):
        sent = await user.send_text(f"/start {link}")
        await says(emulator, user, t(app, lang, "concierge-start-no-persona"), since=sent)
    # No desk linked yet: no session.
    sent = await user.send_text(f"/start p_{persona_id}")
    await says(emulator, user, t(app, lang, "concierge-start-no-desk"), since=sent)
    assert await current_session(app, user.id) is None
    sent = await user.send_text("/end")
    await says(emulator, user, t(app, lang, "concierge-end-none"), since=sent)


# ---------------------------------------------------------------------- sessions and charging


@LANGS
async def test_each_message_is_charged_once_even_when_its_update_comes_again(
    app: Application, emulator: BotAPIEmulator, lang: str
) -> None:
    _, staff, desk = await setup_desk(app, emulator, lang)
    persona_id = await create_persona(app, emulator, staff, price=3)
    user = secret_user(emulator, lang)
    await grant(app, user.id, 10)
    thread = await open_session(app, emulator, user, persona_id, price=3)
    message = await user.send_text("Hello Mika, how are you?")
    copies = await in_topic(emulator, desk, thread, 1)
    assert copies[0].text == "Hello Mika, how are you?"
    assert await balance(app, user.id) == 7
    # Telegram delivers the update again (same id), and the same message under a new update id.
    update_id = max(u["update_id"] for u in emulator.updates.history)
    emulator.updates.redeliver(update_id)
    emulator.updates.push({"message": message.data})
    probe = await user.send_text("Second message")
    await in_topic(emulator, desk, thread, 2)
    assert [m.text for m in relayed(emulator, desk, thread)] == [
        "Hello Mika, how are you?",
        "Second message",
    ]
    assert probe.text == "Second message"
    assert await balance(app, user.id) == 4
    async with app.sessionmaker() as session:
        charges = await session.scalar(
            select(func.count())
            .select_from(CreditMovement)
            .where(CreditMovement.user_id == user.id, CreditMovement.kind == MovementKind.USAGE)
        )
    assert charges == 2
    assert_no_identity(emulator, desk, user)


@LANGS
async def test_a_low_balance_is_refused_with_the_buy_buttons_and_nothing_charged_or_relayed(
    app: Application, emulator: BotAPIEmulator, lang: str
) -> None:
    _, staff, desk = await setup_desk(app, emulator, lang)
    persona_id = await create_persona(app, emulator, staff, price=5)
    user = secret_user(emulator, lang)
    await grant(app, user.id, 4)
    thread = await open_session(app, emulator, user, persona_id, price=5, name=None)
    sent = await user.send_text("Are you there?")
    refusal = await says(
        emulator, user, t(app, lang, "concierge-low-balance", balance=4, price=5), since=sent
    )
    assert any(
        str(b.get("callback_data", "")).startswith("pay1:buy") for b in refusal.inline_buttons
    )
    assert await balance(app, user.id) == 4
    assert relayed(emulator, desk, thread) == []


@LANGS
async def test_a_message_that_cannot_be_relayed_is_not_charged(
    app: Application, emulator: BotAPIEmulator, lang: str
) -> None:
    _, staff, desk = await setup_desk(app, emulator, lang)
    persona_id = await create_persona(app, emulator, staff, price=2)
    user = secret_user(emulator, lang)
    await grant(app, user.id, 10)
    await open_session(app, emulator, user, persona_id)
    emulator.faults.schedule("sendMessage", [400], chat_id=desk.id)
    sent = await user.send_text("This one is lost")
    await says(emulator, user, t(app, lang, "concierge-not-delivered", credits=2), since=sent)
    assert await balance(app, user.id) == 10
    # A document is not relayed and not charged.
    sent_doc = await user.send_document(b"%PDF-1.4", "a.pdf")
    await says(emulator, user, t(app, lang, "concierge-msg-unsupported"), since=sent_doc)
    assert await balance(app, user.id) == 10


# ---------------------------------------------------------------------- the desk


@LANGS
async def test_text_photos_and_stickers_are_relayed_both_ways_with_no_identity_in_the_desk(
    app: Application, emulator: BotAPIEmulator, lang: str
) -> None:
    _, staff, desk = await setup_desk(app, emulator, lang)
    persona_id = await create_persona(app, emulator, staff, price=1)
    user = secret_user(emulator, lang)
    await grant(app, user.id, 10)
    thread = await open_session(app, emulator, user, persona_id, price=1)
    assert SECRET_FIRST not in topic_name(emulator, desk, thread)
    assert topic_name(emulator, desk, thread).startswith(Badge.ANSWERED.value)

    # One after the other: updates are handled concurrently, so order is kept by waiting.
    await user.send_text("Hello! Call me Haru.")
    await in_topic(emulator, desk, thread, 1)
    await user.send_photo(avatar_png(), caption="my cat")
    await in_topic(emulator, desk, thread, 2)
    await user.send_sticker("😺")
    copies = await in_topic(emulator, desk, thread, 3)
    assert "photo" in copies[1].data
    assert copies[1].caption == "my cat"
    assert "sticker" in copies[2].data
    await emulator.wait_until(
        lambda: topic_name(emulator, desk, thread).startswith(Badge.WAITING.value),
        timeout=60,
        what="the topic shows a waiting message",
    )

    # Staff answer in the topic: text, photo, sticker; the user gets copies from the bot.
    before = len(emulator.messages(user.chat, from_bot=True))

    def answers(count: int) -> Callable[[], list[StoredMessage] | None]:
        def check() -> list[StoredMessage] | None:
            found = emulator.messages(user.chat, from_bot=True)[before:]
            return found if len(found) >= count else None

        return check

    await staff.send_text("Nice to meet you, Haru!", chat=desk, thread_id=thread)
    await emulator.wait_until(answers(1), 60, what="the text answer")
    await staff.send_photo(avatar_png(), caption="tea time", chat=desk, thread_id=thread)
    await emulator.wait_until(answers(2), 60, what="the photo answer")
    await staff.send_sticker("🍵", chat=desk, thread_id=thread)
    got = await emulator.wait_until(answers(3), 60, what="the sticker answer")
    assert got[0].text == "Nice to meet you, Haru!"
    assert got[1].caption == "tea time"
    assert "photo" in got[1].data
    assert "sticker" in got[2].data
    for message in got:
        assert "forward_origin" not in message.data
        assert "Sana" not in json.dumps(message.data, ensure_ascii=False)
    await emulator.wait_until(
        lambda: topic_name(emulator, desk, thread).startswith(Badge.ANSWERED.value),
        timeout=60,
        what="the topic shows the answer",
    )
    assert await balance(app, user.id) == 7

    # Someone in the desk who is not staff: nothing relayed.
    stranger = emulator.create_user("Bystander", language_code=lang)
    join(desk, stranger)
    await stranger.send_text("psst", chat=desk, thread_id=thread)
    await says(emulator, desk, desk_t(app, "concierge-desk-not-staff"), thread_id=thread)
    assert all(m.text != "psst" for m in emulator.messages(user.chat, from_bot=True))
    assert_no_identity(emulator, desk, user)


@LANGS
async def test_claim_release_and_close(
    app: Application, emulator: BotAPIEmulator, lang: str
) -> None:
    _, staff, desk = await setup_desk(app, emulator, lang)
    other = emulator.create_user("Kei", language_code=lang)
    await other.send_text("/start")
    await other.wait_reply(timeout=60)
    await make_staff(app, other.id)
    join(desk, other)
    persona_id = await create_persona(app, emulator, staff, price=1)
    user = secret_user(emulator, lang)
    await grant(app, user.id, 10)
    thread = await open_session(app, emulator, user, persona_id, price=1)
    await user.send_text("Anyone?")
    (copy,) = await in_topic(emulator, desk, thread, 1)
    row = await current_session(app, user.id)
    assert row is not None
    sid = row.id

    answer = await press_in_topic(staff, copy, DeskAction.CLAIM, sid)
    assert answer == t(app, lang, "concierge-press-claimed")
    await emulator.wait_until(
        lambda: topic_name(emulator, desk, thread).startswith(Badge.CLAIMED_WAITING.value),
        timeout=60,
        what="claimed",
    )
    assert await press_in_topic(other, copy, DeskAction.CLAIM, sid) == t(
        app, lang, "concierge-press-taken"
    )
    assert await press_in_topic(other, copy, DeskAction.RELEASE, sid) == t(
        app, lang, "concierge-press-taken"
    )
    assert await press_in_topic(staff, copy, DeskAction.RELEASE, sid) == t(
        app, lang, "concierge-press-released"
    )
    await emulator.wait_until(
        lambda: topic_name(emulator, desk, thread).startswith(Badge.WAITING.value),
        timeout=60,
        what="released",
    )
    assert await press_in_topic(staff, copy, DeskAction.RELEASE, sid) == t(
        app, lang, "concierge-press-not-claimed"
    )
    # A non-staff member pressing a desk button: refused.
    stranger = emulator.create_user("Bystander", language_code=lang)
    join(desk, stranger)
    assert await press_in_topic(stranger, copy, DeskAction.CLOSE, sid) == t(
        app, lang, "concierge-desk-not-staff"
    )

    before = len(emulator.messages(user.chat, from_bot=True))
    assert await press_in_topic(other, copy, DeskAction.CLOSE, sid) == t(
        app, lang, "concierge-press-closed"
    )
    await says(emulator, user, t(app, lang, "concierge-ended-by-persona", persona="Mika"))
    await emulator.wait_until(
        lambda: emulator.chat(desk.id).topics[thread].closed, timeout=60, what="the topic closed"
    )
    assert topic_name(emulator, desk, thread).startswith(Badge.CLOSED.value)
    assert len(emulator.messages(user.chat, from_bot=True)) == before + 1
    ended = await current_session(app, user.id)
    assert ended is not None
    assert ended.state is SessionState.CLOSED
    # After the close, the user's messages go to the AI chat, not the persona; nothing charged.
    assert await balance(app, user.id) == 9
    sent = await user.send_text("/end")
    await says(emulator, user, t(app, lang, "concierge-end-none"), since=sent)
    assert_no_identity(emulator, desk, user)


@LANGS
async def test_templates_are_sent_with_the_name_the_user_gave(
    app: Application, emulator: BotAPIEmulator, lang: str
) -> None:
    _, staff, desk = await setup_desk(app, emulator, lang)
    persona_id = await create_persona(app, emulator, staff, price=1)
    sent = await staff.send_text("/concierge")
    menu = await staff.wait_reply(after=sent, timeout=60)
    await staff.press(menu, data=StaffCD(action=StaffAction.NEW_TEMPLATE).pack(), timeout=30)
    await says(emulator, staff, t(app, lang, "concierge-ask-template-title"), since=menu)
    await staff.send_text("Welcome")
    await says(emulator, staff, t(app, lang, "concierge-ask-template-body"))
    await staff.send_text("Welcome back, {name}! {not a placeholder}")
    await says(emulator, staff, t(app, lang, "concierge-template-saved", title="Welcome"))

    user = secret_user(emulator, lang)
    await grant(app, user.id, 10)
    thread = await open_session(app, emulator, user, persona_id, price=1, name="Haru")
    await user.send_text("Hi")
    (copy,) = await in_topic(emulator, desk, thread, 1)
    row = await current_session(app, user.id)
    assert row is not None
    button = next(b for b in copy.inline_buttons if "Welcome" in str(b.get("text")))
    data = DeskCD.unpack(str(button["callback_data"]))
    assert await press_in_topic(staff, copy, DeskAction.TEMPLATE, row.id, data.ref) == t(
        app, lang, "concierge-press-delivered"
    )
    sent_text = "Welcome back, Haru! {not a placeholder}"
    await emulator.wait_for(lambda m: m.from_bot and m.text == sent_text, 60, chat=user.chat)
    assert_no_identity(emulator, desk, user)


class Asked(NamedTuple):
    """A session whose user has asked one question, relayed into its topic."""

    operator: UserActor
    staff: UserActor
    desk: Chat
    user: UserActor
    thread: int
    copy: StoredMessage
    session: ConciergeSession


async def a_question_in_the_desk(
    app: Application, emulator: BotAPIEmulator, lang: str, text: str
) -> Asked:
    operator, staff, desk = await setup_desk(app, emulator, lang)
    persona_id = await create_persona(app, emulator, staff, price=2)
    user = secret_user(emulator, lang)
    await grant(app, user.id, 10)
    thread = await open_session(app, emulator, user, persona_id)
    await user.send_text(text)
    (copy,) = await in_topic(emulator, desk, thread, 1)
    row = await current_session(app, user.id)
    assert row is not None
    return Asked(operator, staff, desk, user, thread, copy, row)


@LANGS
async def test_an_ai_draft_in_the_persona_s_voice_is_sent_by_staff_and_never_charged(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI, lang: str
) -> None:
    _, staff, desk, user, thread, copy, row = await a_question_in_the_desk(
        app, emulator, lang, "Can you recommend a film?"
    )
    openai_fake.queue(Reply("Try Roman Holiday, Haru — a perfect rainy-day film!"))
    await press_in_topic(staff, copy, DeskAction.DRAFT, row.id)
    drafts = await in_topic(emulator, desk, thread, 2)
    draft = drafts[1]
    assert "Try Roman Holiday, Haru" in (draft.text or "")
    prompt = json.dumps(openai_fake.stream_requests[-1].body, ensure_ascii=False)
    assert "You are Mika" in prompt
    assert "Can you recommend a film?" in prompt
    assert SECRET_FIRST not in prompt
    assert str(SECRET_ID) not in prompt
    ref = DeskCD.unpack(str(draft.inline_buttons[0]["callback_data"])).ref
    assert await press_in_topic(staff, draft, DeskAction.SEND_DRAFT, row.id, ref) == t(
        app, lang, "concierge-press-delivered"
    )
    await emulator.wait_for(
        lambda m: m.from_bot and m.text == "Try Roman Holiday, Haru — a perfect rainy-day film!",
        60,
        chat=user.chat,
    )
    # A second tap sends nothing again.
    assert await press_in_topic(staff, draft, DeskAction.SEND_DRAFT, row.id, ref) == t(
        app, lang, "concierge-press-duplicate"
    )
    # Only the user's message was charged; the draft cost the user nothing.
    assert await balance(app, user.id) == 8
    assert_no_identity(emulator, desk, user)


async def test_a_draft_pressed_before_the_bot_heard_it_was_posted_is_still_sent_once(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    """Telegram shows the draft before the bot has the answer to its sendMessage (and so before
    the draft's row knows its message): a press then is keyed by the pressed message."""
    operator, staff, desk, user, thread, copy, row = await a_question_in_the_desk(
        app, emulator, "en", "Any tea you like?"
    )

    original = emulator.methods.get("sendMessage")
    assert original is not None
    answer_held = asyncio.Event()
    release = asyncio.Event()

    async def held_draft(call: Call) -> Any:
        result = await original(call)  # stored, and visible to staff, at once
        if call.params.get("chat_id") == desk.id and call.params.get("reply_markup"):
            answer_held.set()
            await release.wait()
        return result

    emulator.override_method("sendMessage", held_draft)
    openai_fake.queue(Reply("Sencha, and a quiet afternoon."))
    await press_in_topic(staff, copy, DeskAction.DRAFT, row.id)
    await eventually(answer_held.is_set, what="the draft posted, its answer held")
    draft = (await in_topic(emulator, desk, thread, 2))[1]
    ref = DeskCD.unpack(str(draft.inline_buttons[0]["callback_data"])).ref
    try:
        # Another member of staff presses while the bot still waits for Telegram's answer.
        first = await press_in_topic(operator, draft, DeskAction.SEND_DRAFT, row.id, ref)
        second = await press_in_topic(operator, draft, DeskAction.SEND_DRAFT, row.id, ref)
    finally:
        release.set()
    assert first == t(app, "en", "concierge-press-delivered")
    assert second == t(app, "en", "concierge-press-duplicate")
    sent = [
        m
        for m in emulator.messages(user.chat, from_bot=True)
        if m.text == "Sencha, and a quiet afternoon."
    ]
    assert len(sent) == 1
    assert await balance(app, user.id) == 8


@LANGS
async def test_a_draft_the_model_or_telegram_refuses_is_reported_and_costs_nothing(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI, lang: str
) -> None:
    _, staff, desk, user, thread, copy, row = await a_question_in_the_desk(
        app, emulator, lang, "Is the shop open today?"
    )
    failed = desk_t(app, "concierge-desk-draft-failed")

    # The provider refuses: staff hear it in the topic.
    openai_fake.queue(Fail(400, "scripted refusal"))
    await press_in_topic(staff, copy, DeskAction.DRAFT, row.id)
    first = await says(emulator, desk, failed, thread_id=thread)

    # The model writes, but Telegram refuses the post: the same answer, and the draft is kept
    # as failed (nothing to send from it).
    original = emulator.methods.get("sendMessage")
    assert original is not None

    async def refuse_drafts(call: Call) -> Any:
        if call.params.get("chat_id") == desk.id and call.params.get("reply_markup"):
            raise bad_request("not enough rights to send text messages to the chat")
        return await original(call)

    emulator.override_method("sendMessage", refuse_drafts)
    openai_fake.queue(Reply("We are open until six."))
    await press_in_topic(staff, copy, DeskAction.DRAFT, row.id)
    await says(emulator, desk, failed, since=first, thread_id=thread)
    async with app.sessionmaker() as session:
        states = (
            await session.scalars(
                select(ConciergeRelay.state).where(
                    ConciergeRelay.session_id == row.id,
                    ConciergeRelay.direction == RelayDirection.DRAFT,
                )
            )
        ).all()
    assert states == [RelayState.FAILED]
    assert not [m for m in emulator.messages(user.chat, from_bot=True) if "six" in (m.text or "")]
    # Only the user's message was charged.
    assert await balance(app, user.id) == 8


# ---------------------------------------------------------------------- the transcript


@LANGS
async def test_the_session_transcript_decrypts_with_gpg_from_the_concierge_topic(
    app: Application, emulator: BotAPIEmulator, gpg_home: Path, lang: str
) -> None:
    from keyboards.logserver import REQUEST_GROUP
    from tests.e2e.test_logserver import open_logserver, wait_records

    _, staff, desk = await setup_desk(app, emulator, lang)
    persona_id = await create_persona(app, emulator, staff, price=1)
    user = secret_user(emulator, lang)
    public = gpg(gpg_home, "--armor", "--export", "r@example.org").stdout.decode()
    await open_logserver(user)
    logs = emulator.create_supergroup(user, "My logs", is_forum=True)
    await user.share_chat(REQUEST_GROUP, logs)
    await says(emulator, user, t(app, lang, "logserver-key-prompt").split(".")[0].split("。")[0])
    await user.send_text(public)
    await says(emulator, user, t(app, lang, "logserver-setup-done", title="My logs")[:12])
    await wait_records(app, emulator, logs, 1)

    await grant(app, user.id, 10)
    thread = await open_session(app, emulator, user, persona_id, price=1)
    await user.send_text("What tea do you like?")
    await in_topic(emulator, desk, thread, 1)
    await staff.send_text("Sencha, always.", chat=desk, thread_id=thread)
    await emulator.wait_for(
        lambda m: m.from_bot and m.text == "Sencha, always.", 60, chat=user.chat
    )
    sent = await user.send_text("/end")
    await says(emulator, user, t(app, lang, "concierge-ended", persona="Mika"), since=sent)

    def transcript_posted() -> StoredMessage | None:
        found = [p for p in posted_records(emulator, logs) if "#concierge" in p.header]
        return found[-1].message if found else None

    message = await emulator.wait_until(transcript_posted, 90, what="the transcript record")
    assert message.thread_id is not None
    topic = emulator.chat(logs.id).topics[message.thread_id]
    assert topic.name == t(app, lang, "logserver-topic-concierge")
    armored = next(p.armored for p in posted_records(emulator, logs) if p.message is message)
    crypto = app.dispatcher.workflow_data["crypto"]
    imported = gpg(gpg_home, "--import", input_=crypto.server_key.public_armored.encode())
    assert imported.returncode == 0, imported.stderr.decode(errors="replace")
    opened = gpg(gpg_home, "--decrypt", input_=armored.encode())
    status = opened.stderr.decode(errors="replace")
    assert opened.returncode == 0, status
    assert "VALIDSIG" in status, status
    doc = json.loads(opened.stdout)
    body = json.dumps(doc, ensure_ascii=False)
    assert "concierge-session" in body
    assert "What tea do you like?" in body
    assert "Sencha, always." in body
    assert SECRET_FIRST not in body


@LANGS
async def test_the_unanswered_queue_lists_the_longest_waiting_first_and_a_block_is_reported(
    app: Application, emulator: BotAPIEmulator, lang: str
) -> None:
    _, staff, desk = await setup_desk(app, emulator, lang)
    persona_id = await create_persona(app, emulator, staff, price=1)
    first = emulator.create_user("First", language_code=lang)
    second = emulator.create_user("Second", language_code=lang)
    threads = []
    for person in (first, second):
        await grant(app, person.id, 5)
        threads.append(await open_session(app, emulator, person, persona_id, price=1))
    await first.send_text("I was here first")
    await in_topic(emulator, desk, threads[0], 1)
    await second.send_text("Me too")
    await in_topic(emulator, desk, threads[1], 1)
    pseudonyms = [
        app.dispatcher.workflow_data["concierge"].pseudonym(p.id) for p in (first, second)
    ]

    async def queue_text() -> str:
        sent = await staff.send_text("/concierge")
        menu = await staff.wait_reply(after=sent, timeout=60)
        await staff.press(menu, data=StaffCD(action=StaffAction.QUEUE).pack(), timeout=30)
        shown = await emulator.wait_for(
            lambda m: m.from_bot and m.message_id > menu.message_id, 60, chat=staff.chat
        )
        return plain(shown.text or "")

    listed = await queue_text()
    assert listed.startswith(t(app, lang, "concierge-queue", count=2))
    assert listed.index(pseudonyms[0]) < listed.index(pseudonyms[1])

    # The first user blocked the bot: staff's answer is not delivered, and staff hear why.
    first.block_bot()
    await staff.send_text("Sorry for the wait!", chat=desk, thread_id=threads[0])
    await says(emulator, desk, desk_t(app, "concierge-desk-blocked"), thread_id=threads[0])
    # The second is answered and leaves the queue; the first still waits.
    await staff.send_text("Hello!", chat=desk, thread_id=threads[1])
    await emulator.wait_for(lambda m: m.from_bot and m.text == "Hello!", 60, chat=second.chat)
    await emulator.wait_until(
        lambda: topic_name(emulator, desk, threads[1]).startswith(Badge.ANSWERED.value),
        timeout=60,
        what="the second answered",
    )
    listed = await queue_text()
    assert listed.startswith(t(app, lang, "concierge-queue", count=1))
    assert pseudonyms[0] in listed
    assert pseudonyms[1] not in listed
