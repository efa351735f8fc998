"""/forget end to end: confirmation, deletion of central personal data, ledger kept, and every
refusal path (cancel, expired or reused buttons), in Japanese and English."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.db.models import CreditMovement, MovementKind, User
from bot.db.models.logserver import LogServer, LogServerState, OutboxRecord
from bot.i18n import Translator
from bot.settings import Settings
from services import ledger, users
from tests.emulator.actors import UserActor
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import StoredMessage
from tests.harness import eventually, run_bot

T = Translator()


@pytest.fixture
async def app(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> AsyncIterator[Application]:
    async with run_bot(emulator, make_settings()) as running:
        yield running


async def seed(app: Application, user_id: int, locale: str) -> None:
    """Central data of a user: a language, a log server with queued ciphertext, credits."""
    async with app.sessionmaker() as session:
        user = await users.get_or_create(session, user_id)
        await users.set_locale(session, user, locale)
        session.add(
            LogServer(
                user_id=user_id,
                chat_hash=f"hash-{user_id}",
                chat_enc="v1.test",
                # Disconnected: the delivery worker leaves its queue alone (it waits up to 24 h).
                state=LogServerState.DISCONNECTED,
            )
        )
        session.add_all(
            OutboxRecord(user_id=user_id, seq=i, kind="chat", armored="-----BEGIN PGP MESSAGE")
            for i in range(3)
        )
        await ledger.apply_movement(session, user_id, 300, MovementKind.GRANT, f"seed-{user_id}")
        await session.commit()


async def snapshot(app: Application, user_id: int) -> tuple[str | None, int, int, int, int]:
    """(locale, credits, log servers, queued records, ledger rows) as committed."""
    async with app.sessionmaker() as session:
        user = await session.get(User, user_id)
        assert user is not None
        servers = await session.scalar(
            select(func.count()).select_from(LogServer).where(LogServer.user_id == user_id)
        )
        queued = await session.scalar(
            select(func.count()).select_from(OutboxRecord).where(OutboxRecord.user_id == user_id)
        )
        movements = await session.scalar(
            select(func.count())
            .select_from(CreditMovement)
            .where(CreditMovement.user_id == user_id)
        )
        return user.locale, user.credits, int(servers or 0), int(queued or 0), int(movements or 0)


async def ask(user: UserActor) -> StoredMessage:
    sent = await user.send_text("/forget")
    return await user.wait_reply(after=sent)


async def edited_to(emulator: BotAPIEmulator, message: StoredMessage, text: str) -> StoredMessage:
    def current() -> StoredMessage | None:
        found = emulator.chat(message.chat_id).messages[message.message_id]
        return found if (found.text or "").startswith(text) else None

    return await emulator.wait_until(current, what=f"message edited to {text!r}")


async def committed(app: Application, user_id: int, expected: tuple[object, ...]) -> None:
    """The reply is edited inside the handler; the commit follows it."""

    async def reached() -> bool:
        return await snapshot(app, user_id) == expected

    await eventually(reached, f"user {user_id}'s rows becoming {expected}")


@pytest.mark.parametrize("locale", ["ja", "en"])
async def test_forget_deletes_central_data_and_keeps_the_ledger(
    app: Application, emulator: BotAPIEmulator, locale: str
) -> None:
    user = emulator.create_user("Aiko", language_code=locale)
    bystander = emulator.create_user("Ben", language_code=locale)
    await seed(app, user.id, locale)
    await seed(app, bystander.id, locale)
    i18n = T.for_locale(locale)

    question = await ask(user)
    assert (question.text or "").startswith(
        i18n("forget-confirm", minutes=10).split("\n")[0].replace("<b>", "").replace("</b>", "")
    )
    labels = [b["text"] for b in question.inline_buttons]
    assert labels == [i18n("forget-button-confirm"), i18n("forget-button-cancel")]
    confirm_data = question.inline_buttons[0]["callback_data"]

    press = await user.press(question, text=i18n("forget-button-confirm"))
    assert press.answer is not None
    done = i18n("forget-done", rows=4).split("\n")[0]
    edited = await edited_to(emulator, question, done)
    assert edited.inline_buttons == []
    # Locale cleared, log server and queue gone; credits and ledger stay.
    await committed(app, user.id, (None, 300, 0, 0, 1))
    assert await snapshot(app, bystander.id) == (locale, 300, 1, 3, 1)

    # The same button again (a double tap, an old copy): nothing more happens.
    # A client still showing the old keyboard (a double tap): the same data once more.
    edited.reply_markup = {"inline_keyboard": [[{"text": "again", "callback_data": confirm_data}]]}
    again = await user.press(edited, data=confirm_data)
    assert again.answer is not None
    # (The stored language is gone; the Telegram app's language is the same here.)
    assert again.answer.text == i18n("forget-expired")


async def test_cancel_deletes_nothing(app: Application, emulator: BotAPIEmulator) -> None:
    user = emulator.create_user("Cai", language_code="en")
    await seed(app, user.id, "en")
    question = await ask(user)
    await user.press(question, text="Cancel")
    edited = await edited_to(emulator, question, "Cancelled. Nothing was deleted.")
    assert edited.inline_buttons == []
    assert await snapshot(app, user.id) == ("en", 300, 1, 3, 1)


async def test_an_older_confirmation_or_a_forged_one_is_refused(
    app: Application, emulator: BotAPIEmulator
) -> None:
    user = emulator.create_user("Dee", language_code="en")
    await seed(app, user.id, "en")
    first = await ask(user)
    second = await ask(user)
    # Only the newest question's buttons are valid.
    press = await user.press(first, text="Delete")
    assert press.answer is not None
    assert press.answer.text == T.get("en", "forget-expired")
    assert press.answer.show_alert is True
    assert await snapshot(app, user.id) == ("en", 300, 1, 3, 1)
    # The refusal used up the pending confirmation: the newer buttons need a new /forget too.
    press = await user.press(second, text="Delete")
    assert press.answer is not None
    assert press.answer.text == T.get("en", "forget-expired")
    # Forged data for a fresh question: wrong nonce.
    third = await ask(user)
    third.reply_markup = {
        "inline_keyboard": [[{"text": "Delete", "callback_data": "fgt1:ok:not-the-nonce"}]]
    }
    press = await user.press(third, data="fgt1:ok:not-the-nonce")
    assert press.answer is not None
    assert press.answer.text == T.get("en", "forget-expired")
    assert await snapshot(app, user.id) == ("en", 300, 1, 3, 1)
    fourth = await ask(user)
    await user.press(fourth, text="Delete")
    await committed(app, user.id, (None, 300, 0, 0, 1))


async def test_privacy_mentions_forget(app: Application, emulator: BotAPIEmulator) -> None:
    user = emulator.create_user("Eri", language_code="ja")
    sent = await user.send_text("/privacy")
    reply = await user.wait_reply(after=sent)
    assert "/forget" in (reply.text or "")
    assert "24" in (reply.text or "")


def put_keyboard(message: StoredMessage, markup: dict[str, object]) -> None:
    """Put buttons on the message as Telegram stores it (the update carries them too)."""
    message.reply_markup = markup
    message.data["reply_markup"] = markup


async def test_malformed_or_misplaced_forget_data_touches_nothing(
    app: Application, emulator: BotAPIEmulator
) -> None:
    user = emulator.create_user("Fay", language_code="en")
    await seed(app, user.id, "en")
    question = await ask(user)
    stored = emulator.chat(user.chat).messages[question.message_id]
    original = stored.reply_markup
    assert original is not None
    confirm = stored.button(text=T.get("en", "forget-button-confirm"))["callback_data"]
    nonce = confirm.split(":")[2]
    expired = T.get("en", "error-button-expired")

    # Non-ASCII where the nonce is expected: the expired alert, not the generic apology.
    put_keyboard(stored, {"inline_keyboard": [[{"text": "Bad", "callback_data": "fgt1:ok:ü"}]]})
    press = await user.press(stored, text="Bad")
    assert press.answer is not None
    assert (press.answer.text, press.answer.show_alert) == (expired, True)
    put_keyboard(stored, original)

    # Forged data for this user's pending question, pressed on a group message of the bot:
    # Telegram delivers that message with its real buttons, so the press is not from a
    # /forget question. The group message stays as it is and the question stays valid.
    group = emulator.create_supergroup(owner=user, title="Team")
    await user.add_bot_to_group(group)
    intro = await emulator.wait_for(lambda m: m.from_bot and bool(m.inline_buttons), chat=group)
    intro.reply_markup = {"inline_keyboard": [[{"text": "x", "callback_data": f"fgt1:no:{nonce}"}]]}
    press = await user.press(intro, text="x")
    assert press.answer is not None
    assert (press.answer.text, press.answer.show_alert) == (expired, True)
    assert emulator.chat(group).messages[intro.message_id].edits == []
    assert await snapshot(app, user.id) == ("en", 300, 1, 3, 1)

    # Nothing was used up: the real button still works.
    await user.press(stored, text=T.get("en", "forget-button-confirm"))
    await committed(app, user.id, (None, 300, 0, 0, 1))
    sorry = T.get("en", "error-generic")
    assert not [m for m in emulator.messages(user.chat, from_bot=True) if m.text == sorry]
