"""AI chat end to end: the real application against the Bot API emulator, acting as users, with
the real provider SDKs talking to local fake OpenAI and Anthropic servers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import Application
from bot.db.models import CreditMovement, MovementKind
from bot.db.models.ai import AIKey, AITurn, AIUsage
from bot.settings import Settings
from services import ledger, users
from services.ai.chat import AIService
from services.ai.config import AISettings
from services.ai.context import PURPOSE_TURN
from services.ai.keys import PURPOSE_KEY
from services.ai.render import utf16_len
from tests.emulator.actors import UserActor
from tests.emulator.errors import bad_request
from tests.emulator.registry import Call
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import StoredMessage, admin_rights
from tests.fakes.ai_servers import (
    Fail,
    FakeAnthropic,
    FakeOpenAI,
    Hang,
    RecordedRequest,
    Reply,
)
from tests.harness import run_bot

SERVER_KEY = "sk-server-0123456789abcdef"
USER_KEY = "sk-user-abcdef0123456789abcd"


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


def ai_settings(openai: FakeOpenAI, anthropic: FakeAnthropic, **over: Any) -> AISettings:
    values: dict[str, Any] = {
        "openai_api_key": SecretStr(SERVER_KEY),
        "openai_base_url": openai.base_url,
        "anthropic_api_key": SecretStr(SERVER_KEY),
        "anthropic_base_url": anthropic.base_url,
        "default_model": "gpt-4o-mini",
        "free_daily_credits": 0,
        "retry_attempts": 2,
        "retry_base_delay": 0.0,
        "retry_max_delay": 0.0,
        "edit_interval": 0.05,
        "group_edit_interval": 0.05,
        "draft_interval": 0.02,
    }
    values.update(over)
    return AISettings.model_validate(values)


@pytest.fixture
def settings_for(
    make_settings: Callable[..., Settings], openai_fake: FakeOpenAI, anthropic_fake: FakeAnthropic
) -> Callable[..., Settings]:
    def build(**ai_over: Any) -> Settings:
        return make_settings(ai=ai_settings(openai_fake, anthropic_fake, **ai_over))

    return build


@pytest.fixture
async def app(
    emulator: BotAPIEmulator, settings_for: Callable[..., Settings]
) -> AsyncIterator[Application]:
    async with run_bot(emulator, settings_for()) as running:
        yield running


def ai_of(app: Application) -> AIService:
    service = app.dispatcher.workflow_data["ai"]
    assert isinstance(service, AIService)
    return service


async def grant(app: Application, user_id: int, credits: int) -> None:
    async with app.sessionmaker() as session:
        await users.get_or_create(session, user_id)
        await ledger.apply_movement(session, user_id, credits, MovementKind.GRANT)
        await session.commit()


async def balance(app: Application, user_id: int) -> int:
    async with app.sessionmaker() as session:
        return await ledger.balance(session, user_id)


async def ask(
    emulator: BotAPIEmulator, user: UserActor, text: str, *, parts: int = 1
) -> list[StoredMessage]:
    """Send ``text``; the bot's final messages (``parts`` of them) once they are complete."""
    sent = await user.send_text(text)

    def done() -> list[StoredMessage] | None:
        replies = [
            m for m in emulator.messages(user.chat, from_bot=True) if m.message_id > sent.message_id
        ]
        # the last part carries the exclude button: the reply is complete then
        if len(replies) >= parts and finished(replies[-1]):
            return replies
        return None

    result = await emulator.wait_until(done, timeout=15, what=f"reply to {text!r}")
    assert isinstance(result, list)
    return result


def finished(message: StoredMessage) -> bool:
    """The final form of a reply: it carries the exclude button (while streaming by edits it
    carries the stop button instead)."""
    return any(str(b.get("callback_data", "")).startswith("ai1:x:") for b in message.inline_buttons)


def contents(request: RecordedRequest) -> list[str]:
    body = request.body or {}
    return [str(m["content"]) for m in body.get("messages", [])]


async def test_conversation_keeps_context_new_and_exclude(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    user = emulator.create_user("Aiko", language_code="en")
    await grant(app, user.id, 1000)
    openai_fake.queue(
        Reply("Nice to meet you, Aiko."), Reply("You like tea."), Reply("Aiko and tea.")
    )
    (first,) = await ask(emulator, user, "My name is Aiko.")
    assert first.text == "Nice to meet you, Aiko."
    await ask(emulator, user, "I like tea.")
    await ask(emulator, user, "What do you know about me?")
    third = contents(openai_fake.stream_requests[2])
    assert third[1:] == [
        "My name is Aiko.",
        "Nice to meet you, Aiko.",
        "I like tea.",
        "You like tea.",
        "What do you know about me?",
    ]
    assert "Libral" in third[0]  # the persona's system prompt comes first

    # exclude: the first exchange leaves the context, the others stay
    pressed = await user.press(first, text="🚫 Drop from context")
    assert pressed.answer is not None
    assert "no longer part of the context" in (pressed.answer.text or "")
    await ask(emulator, user, "Again?")
    fourth = contents(openai_fake.stream_requests[3])
    assert "My name is Aiko." not in fourth
    assert "Nice to meet you, Aiko." not in fourth
    assert "I like tea." in fourth

    # the stored turns are ciphertext only
    async with app.sessionmaker() as session:
        stored = (await session.scalars(select(AITurn.content))).all()
    assert stored
    assert all(s.startswith("f1.") and "tea" not in s for s in stored)

    # /new: nothing of the old conversation is sent, and the rows are gone
    await user.send_text("/new")
    await user.wait_reply()
    await ask(emulator, user, "Fresh start.")
    fifth = contents(openai_fake.stream_requests[4])
    assert fifth[1:] == ["Fresh start."]


async def test_model_switch_between_openai_and_anthropic(
    app: Application,
    emulator: BotAPIEmulator,
    openai_fake: FakeOpenAI,
    anthropic_fake: FakeAnthropic,
) -> None:
    user = emulator.create_user("Ken", language_code="en")
    await grant(app, user.id, 1000)
    openai_fake.queue(Reply("From GPT."))
    await ask(emulator, user, "Hello GPT")
    await user.send_text("/model")
    picker = await user.wait_reply()
    assert "GPT-4o mini" in (picker.text or "")
    labels = [b["text"] for row in (picker.reply_markup or {})["inline_keyboard"] for b in row]
    assert "— OpenAI —" in labels
    assert "— Anthropic —" in labels
    assert "— Google Gemini —" not in labels  # no key: hidden
    pressed = await user.press(picker, text="Claude Haiku 4.5")
    assert pressed.answer is not None
    assert "Claude Haiku 4.5" in (pressed.answer.text or "")

    anthropic_fake.queue(Reply("From Claude.", input_tokens=30, output_tokens=5))
    (reply,) = await ask(emulator, user, "Hello Claude")
    assert reply.text == "From Claude."
    (request,) = anthropic_fake.stream_requests
    body = request.body or {}
    assert body["model"] == "claude-haiku-4-5"
    assert "Libral" in body["system"]
    # the conversation carried over from the other provider
    assert [m["content"] for m in body["messages"]] == ["Hello GPT", "From GPT.", "Hello Claude"]
    assert len(openai_fake.stream_requests) == 1


async def test_private_reply_streams_as_drafts_then_final_message(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    user = emulator.create_user("Mio", language_code="ja")
    await grant(app, user.id, 1000)
    words = [f"word{i} " for i in range(40)]
    openai_fake.queue(Reply(pieces=words, delay=0.01))
    (final,) = await ask(emulator, user, "Stream please")
    assert final.text == "".join(words).strip()
    (draft,) = emulator.drafts(user.chat)
    assert len(draft.texts) >= 2  # visible while streaming
    assert draft.can_stop
    lengths = [len(t) for t in draft.texts]
    assert lengths == sorted(lengths)  # it only grows
    assert final.inline_buttons  # the Japanese exclude button
    assert any(a.action == "typing" for a in emulator.state.chat_actions)
    assert emulator.errors() == []


async def test_group_mention_streams_by_edits_in_the_same_topic(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    owner = emulator.create_user("Owner", language_code="en")
    await grant(app, owner.id, 1000)
    group = emulator.create_supergroup(owner=owner, title="Team", is_forum=True)
    # as an admin the bot sees every message (with privacy mode it would see only replies)
    await owner.add_bot_to_group(group, rights=admin_rights(can_manage_topics=True))
    topic = await app.bot.create_forum_topic(chat_id=group.id, name="Ideas")
    topic_id = topic.message_thread_id
    openai_fake.queue(Reply(pieces=[f"part{i} " for i in range(30)], delay=0.02))

    await owner.send_text("nobody asked the bot", chat=group, thread_id=topic_id)
    question = await owner.send_text(
        f"@{emulator.bot_user.username} explain", chat=group, thread_id=topic_id
    )

    def final() -> StoredMessage | None:
        for m in emulator.messages(group, from_bot=True):
            if m.text and m.text.endswith("part29") and finished(m):
                return m
        return None

    reply = await emulator.wait_until(final, timeout=15, what="final group reply")
    assert isinstance(reply, StoredMessage)
    assert reply.thread_id == topic_id
    assert reply.data.get("reply_to_message", {}).get("message_id") == question.message_id
    assert reply.edits  # it was edited while streaming
    assert len(openai_fake.stream_requests) == 1  # the message without a mention was ignored
    body = openai_fake.stream_requests[0].body or {}
    assert body["messages"][-1]["content"] == "explain"
    assert emulator.drafts(group) == []
    assert emulator.errors() == []


async def test_stop_in_flight_cancels_the_request_and_charges_only_what_was_used(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    user = emulator.create_user("Sora", language_code="en")
    await grant(app, user.id, 1000)
    openai_fake.queue(Reply(pieces=[f"tok{i} " for i in range(400)], delay=0.05))
    sent = await user.send_text("Tell me a long story")
    await emulator.wait_until(
        lambda: any(len(d.texts) >= 3 for d in emulator.drafts(user.chat)), what="drafts"
    )
    await user.stop_generation()
    final = await emulator.wait_for(
        lambda m: m.from_bot and "(stopped)" in (m.text or ""), chat=user.chat, since=sent
    )
    assert (final.text or "").startswith("tok0 tok1")
    assert "tok399" not in (final.text or "")
    await emulator.wait_until(lambda: openai_fake.disconnects == 1, what="request cancelled")
    assert openai_fake.completed == 0
    async with app.sessionmaker() as session:
        usage = await session.scalar(select(AIUsage).where(AIUsage.user_id == user.id))
    assert usage is not None
    assert usage.status == "settled"
    assert 0 < usage.output_tokens < 400  # what streamed before the stop, not the full reply
    assert await balance(app, user.id) == 1000 - usage.cost
    assert emulator.errors() == []


async def test_ten_thousand_characters_are_split_correctly(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    user = emulator.create_user("Rin", language_code="en")
    await grant(app, user.id, 1000)
    prose = "\n\n".join(f"Paragraph {i}. " + "lorem ipsum dolor " * 25 for i in range(18))
    code = "\n".join(f"print({i})  # line {i}" for i in range(120))
    text = f"{prose}\n\n```python\n{code}\n```\n\nThe end."
    assert len(text) > 10_000
    openai_fake.queue(Reply(pieces=[text[i : i + 500] for i in range(0, len(text), 500)]))
    replies = await ask(emulator, user, "Write a lot", parts=3)
    assert len(replies) == 3
    for message in replies:
        assert 0 < utf16_len(message.text or "") <= 4096
    visible = "\n".join(m.text or "" for m in replies)
    assert all(f"Paragraph {i}." in visible for i in range(18))
    assert [ln for ln in visible.splitlines() if ln.startswith("print(")] == code.splitlines()
    assert visible.endswith("The end.")
    # code is code in every part that holds some of it
    for message in replies:
        if "print(" in (message.text or ""):
            assert any(e["type"] == "pre" for e in message.entities)
    assert [finished(m) for m in replies] == [False, False, True]
    assert emulator.errors() == []


async def test_broken_markdown_is_delivered_without_error(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    user = emulator.create_user("Yui", language_code="en")
    await grant(app, user.id, 1000)
    openai_fake.queue(Reply("Here **bold and `code <b> & ~~x\n```py\nif a < b:\n    pass"))
    (reply,) = await ask(emulator, user, "Break it")
    assert "if a < b:" in (reply.text or "")
    assert "<b>" in (reply.text or "")  # the model's tag is text, not markup
    assert emulator.errors() == []


async def test_entities_rejected_by_telegram_fall_back_to_plain(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    user = emulator.create_user("Nao", language_code="en")
    await grant(app, user.id, 1000)
    real = emulator.methods.get("sendMessage")
    assert real is not None

    async def picky(call: Call) -> Any:
        if call.opt_str("parse_mode"):
            raise bad_request("can't parse entities: unsupported start tag")
        return await real(call)

    emulator.override_method("sendMessage", picky)
    openai_fake.queue(Reply("**Bold** answer"))
    (reply,) = await ask(emulator, user, "Format")
    assert reply.text == "Bold answer"
    assert reply.entities == []


async def test_no_balance_refuses_before_the_model_with_buy_buttons(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    user = emulator.create_user("Tao", language_code="en")
    sent = await user.send_text("Hello?")
    reply = await user.wait_reply(after=sent)
    assert "Not enough credits" in (reply.text or "")
    assert reply.inline_buttons  # the credit packs
    assert all("callback_data" in b for b in reply.inline_buttons)
    assert openai_fake.stream_requests == []
    assert await balance(app, user.id) == 0


async def test_own_key_reply_costs_nothing(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    user = emulator.create_user("Bo", language_code="en")
    sent = await user.send_text(f"/apikey {USER_KEY}")
    answer = await user.wait_reply(after=sent)
    assert "works and is stored" in (answer.text or "")
    assert USER_KEY not in (answer.text or "")
    assert emulator.chat(user.chat).messages[sent.message_id].deleted  # the key left the chat
    checks = [r for r in openai_fake.requests if r.method == "GET"]
    assert [r.api_key for r in checks] == [USER_KEY]
    async with app.sessionmaker() as session:
        (row,) = (await session.scalars(select(AIKey))).all()
    assert USER_KEY not in row.ciphertext
    assert ai_of(app).cipher.decrypt_str(PURPOSE_KEY, row.ciphertext, row_id=f"{user.id}:openai")

    openai_fake.queue(Reply("Paid by you.", input_tokens=500, output_tokens=500))
    (reply,) = await ask(emulator, user, "Use my key")  # balance 0: would be refused otherwise
    assert reply.text == "Paid by you."
    assert openai_fake.stream_requests[-1].api_key == USER_KEY
    assert await balance(app, user.id) == 0
    async with app.sessionmaker() as session:
        moved = await session.scalar(
            select(func.count())
            .select_from(CreditMovement)
            .where(CreditMovement.user_id == user.id)
        )
        usage = await session.scalar(select(AIUsage).where(AIUsage.user_id == user.id))
    assert moved == 0
    assert usage is not None
    assert (usage.payer, usage.cost, usage.output_tokens) == ("own-key", 0, 500)

    # a wrong key is refused, deleted, and not stored
    sent = await user.send_text("/apikey sk-wrong-key-0000000000000")
    answer = await user.wait_reply(after=sent)
    assert "did not accept" in (answer.text or "")
    assert emulator.chat(user.chat).messages[sent.message_id].deleted
    await user.send_text("/apikey remove")
    removed = await user.wait_reply()
    assert "(1)" in (removed.text or "")


async def test_provider_failure_charges_nothing_and_offers_another_provider(
    app: Application,
    emulator: BotAPIEmulator,
    openai_fake: FakeOpenAI,
    anthropic_fake: FakeAnthropic,
) -> None:
    user = emulator.create_user("Ema", language_code="en")
    await grant(app, user.id, 1000)
    openai_fake.queue(Fail(500), Fail(503))  # both attempts fail
    sent = await user.send_text("Are you there?")
    reply = await user.wait_reply(after=sent)
    assert "could not be reached" in (reply.text or "")
    assert "No credits were used" in (reply.text or "")
    assert len(openai_fake.stream_requests) == 2  # retried once
    assert await balance(app, user.id) == 1000
    async with app.sessionmaker() as session:
        kinds = (
            await session.scalars(
                select(CreditMovement.kind).where(CreditMovement.user_id == user.id)
            )
        ).all()
    assert sorted(kinds) == sorted([MovementKind.GRANT, MovementKind.RESERVE, MovementKind.RELEASE])

    # the offered alternative switches the model, and the next message goes there
    pressed = await user.press(reply, text="→ Claude Haiku 4.5")
    assert pressed.answer is not None
    anthropic_fake.queue(Reply("Claude here."))
    (answer,) = await ask(emulator, user, "Now?")
    assert answer.text == "Claude here."
    # a refusal is reported as such, also without charge
    anthropic_fake.queue(Reply("", pieces=[], refuse=True))
    before = await balance(app, user.id)
    sent = await user.send_text("Something refused")
    refused = await user.wait_reply(after=sent)
    assert "declined" in (refused.text or "")
    assert await balance(app, user.id) == before


async def test_a_hanging_provider_is_given_up_at_the_request_timeout_and_nothing_charged(
    emulator: BotAPIEmulator, settings_for: Callable[..., Settings], openai_fake: FakeOpenAI
) -> None:
    # Five attempts of 1 s each would take 5 s; the whole request is allowed 1.5 s.
    settings = settings_for(first_token_timeout=1.0, request_timeout=1.5, retry_attempts=5)
    openai_fake.default = Hang()
    async with run_bot(emulator, settings) as app:
        user = emulator.create_user("Hana", language_code="en")
        await grant(app, user.id, 1000)
        sent = await user.send_text("Hello?")
        reply = await user.wait_reply(after=sent, timeout=30)
        assert "did not answer in time" in (reply.text or "")
        assert "No credits were used" in (reply.text or "")
        assert 1 <= len(openai_fake.stream_requests) <= 2
        assert await balance(app, user.id) == 1000
        assert emulator.messages(user.chat, from_bot=True) == [reply]  # no partial answer


@pytest.mark.parametrize("private", [True, False])
async def test_a_stream_cut_halfway_keeps_the_partial_answer_marked_and_charges_nothing(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI, private: bool
) -> None:
    user = emulator.create_user("Kai", language_code="en")
    await grant(app, user.id, 1000)
    chat = None
    if not private:
        chat = emulator.create_supergroup(owner=user, title="Team")
        await user.add_bot_to_group(chat, rights=admin_rights())
    words = [f"w{i} " for i in range(40)]
    openai_fake.queue(Reply(pieces=words, delay=0.02, cut_after=20))
    text = "Tell me" if private else f"@{emulator.bot_user.username} tell me"
    sent = await user.send_text(text, chat=chat)
    where = user.chat if chat is None else chat

    def answers() -> list[StoredMessage] | None:
        found = [
            m for m in emulator.messages(where, from_bot=True) if m.message_id > sent.message_id
        ]
        return found if any("could not be reached" in (m.text or "") for m in found) else None

    found = await emulator.wait_until(answers, timeout=30, what="the failure report")
    (partial,) = [m for m in found if (m.text or "").startswith("w0")]
    report = found[-1]
    assert (partial.text or "").startswith("w0 w1")
    assert (partial.text or "").endswith("(interrupted)")
    assert "w39" not in (partial.text or "")
    assert not finished(partial)  # no exclude button: it is not in the context either
    assert not any("ai1:s:" in str(b.get("callback_data")) for b in partial.inline_buttons)
    assert "No credits were used" in (report.text or "")
    assert len(openai_fake.stream_requests) == 1  # text was shown: never asked twice
    assert await balance(app, user.id) == 1000


async def test_turns_older_than_24_hours_are_never_sent(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    user = emulator.create_user("Old", language_code="en")
    await grant(app, user.id, 1000)
    ai = ai_of(app)
    now = datetime.now(UTC)
    async with app.sessionmaker() as session:
        for age, text in ((timedelta(hours=25), "ancient secret"), (timedelta(hours=23), "recent")):
            created = now - age
            for role in ("user", "assistant"):
                session.add(
                    AITurn(
                        user_id=user.id,
                        scope="private",
                        exchange=f"x{age.seconds}",
                        role=role,
                        content=ai.cipher.encrypt(PURPOSE_TURN, f"{text} {role}", row_id=user.id),
                        tokens=5,
                        created_at=created,
                        # even a row the purge has not reached yet (expires_at in the future)
                        expires_at=now + timedelta(hours=1),
                    )
                )
        await session.commit()
    await ask(emulator, user, "What do you remember?")
    sent = contents(openai_fake.stream_requests[0])
    assert "recent user" in sent
    assert "recent assistant" in sent
    assert not any("ancient" in c for c in sent)


async def test_group_topic_reply_to_bot_and_new_are_per_topic(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    owner = emulator.create_user("Lead", language_code="en")
    await grant(app, owner.id, 1000)
    group = emulator.create_supergroup(owner=owner, title="Team", is_forum=True)
    # not an admin: with privacy mode the bot sees commands and replies to it only
    await owner.add_bot_to_group(group)
    openai_fake.queue(Reply("First answer."), Reply("Second answer."))
    await owner.send_text("/ask first", chat=group)
    first = await emulator.wait_for(
        lambda m: m.from_bot and m.text == "First answer." and finished(m), chat=group
    )
    # replying to the bot's message needs no mention
    await owner.send_text("and then?", chat=group, reply_to=first)
    await emulator.wait_for(
        lambda m: m.from_bot and m.text == "Second answer." and finished(m), chat=group
    )
    second = contents(openai_fake.stream_requests[1])
    assert second[1:] == ["first", "First answer.", "and then?"]
    # the private conversation is separate from the group's
    openai_fake.queue(Reply("Private."))
    await ask(emulator, owner, "private question")
    assert contents(openai_fake.stream_requests[2])[1:] == ["private question"]


async def test_balance_usage_persona(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    user = emulator.create_user("Uma", language_code="ja")
    await grant(app, user.id, 500)
    openai_fake.queue(Reply("はい。", input_tokens=1_000_000, output_tokens=10))
    await ask(emulator, user, "こんにちは")
    await user.send_text("/balance")
    shown = await user.wait_reply()
    # 1M input tokens at 150 + 10 output tokens at 600 per million, rounded up: 151
    assert re.search(r"残高.*: 349 クレジット", shown.text or "")
    await user.send_text("/usage")
    usage = await user.wait_reply()
    assert "今日: 1 件" in (usage.text or "")
    assert "GPT-4o mini: 1 件、1,000,010 トークン、151 クレジット" in (usage.text or "")

    await user.send_text("/persona")
    picker = await user.wait_reply()
    await user.press(picker, text="先生")
    openai_fake.queue(Reply("先生です。"))
    await ask(emulator, user, "教えて")
    assert "patient teacher" in contents(openai_fake.stream_requests[-1])[0]
    await user.send_text("/persona You are a pirate.")
    await user.wait_reply()
    openai_fake.queue(Reply("Arr."))
    await ask(emulator, user, "hi")
    assert contents(openai_fake.stream_requests[-1])[0].startswith("You are a pirate.")


async def test_a_mention_before_an_emoji_and_a_later_entity_is_answered(
    app: Application, emulator: BotAPIEmulator, openai_fake: FakeOpenAI
) -> None:
    # Entity offsets are UTF-16 units: the mention taken out of the text must not move the
    # hashtag, and the emoji after it (two units each) must not be cut in half. Which hashtag
    # lands a stale offset inside an emoji depends on the bot's name length: both are sent.
    owner = emulator.create_user("Mia", language_code="en")
    await grant(app, owner.id, 1000)
    group = emulator.create_supergroup(owner=owner, title="Team")
    await owner.add_bot_to_group(group, rights=admin_rights())
    mention = f"@{emulator.bot_user.username}"
    emoji = "😀" * 10
    for number, tag in enumerate(("#b", "#bc")):
        openai_fake.queue(Reply(f"Answer {number}."))
        await owner.send_text(
            f"{mention} a {tag} {emoji}",
            chat=group,
            entities=[
                {"type": "mention", "offset": 0, "length": utf16_len(mention)},
                {"type": "hashtag", "offset": utf16_len(f"{mention} a "), "length": len(tag)},
            ],
        )

        def answer(m: StoredMessage, n: int = number) -> bool:
            return m.from_bot and m.text == f"Answer {n}." and finished(m)

        await emulator.wait_for(answer, chat=group)
        assert contents(openai_fake.stream_requests[number])[-1] == f"a {tag} {emoji}"
    assert emulator.errors() == []


async def test_a_key_in_a_group_the_bot_cannot_delete_is_reported_with_revoke(
    app: Application, emulator: BotAPIEmulator
) -> None:
    owner = emulator.create_user("Kai", language_code="en")
    group = emulator.create_supergroup(owner=owner, title="Team")
    # a plain member: Telegram refuses to delete other people's messages
    await owner.add_bot_to_group(group)
    sent = await owner.send_text(f"/apikey {USER_KEY}", chat=group)
    answer = await emulator.wait_for(
        lambda m: m.from_bot and m.message_id > sent.message_id, chat=group
    )
    assert not emulator.chat(group).messages[sent.message_id].deleted
    assert "I could not delete the message" in (answer.text or "")
    assert "revoke the key" in (answer.text or "")
    assert "was deleted" not in (answer.text or "")
    async with app.sessionmaker() as session:
        assert (await session.scalars(select(AIKey))).all() == []

    # as an administrator with the right, the key leaves the group
    await owner.promote_bot(group, admin_rights(can_delete_messages=True))
    sent = await owner.send_text(f"/apikey {USER_KEY}", chat=group)
    await emulator.wait_for(
        lambda m: (
            m.from_bot
            and m.message_id > sent.message_id
            and "The message was deleted" in (m.text or "")
        ),
        chat=group,
    )
    assert emulator.chat(group).messages[sent.message_id].deleted


async def test_a_private_key_message_that_cannot_be_deleted_says_so(
    app: Application, emulator: BotAPIEmulator
) -> None:
    user = emulator.create_user("Ren", language_code="en")

    async def refuse(call: Call) -> Any:
        raise bad_request("message can't be deleted for everyone")

    emulator.override_method("deleteMessage", refuse)
    sent = await user.send_text(f"/apikey {USER_KEY}")
    answer = await user.wait_reply(after=sent)
    assert "works and is stored" in (answer.text or "")
    assert "revoke the key" in (answer.text or "")
    assert "was deleted" not in (answer.text or "")
