"""Issue 11: a secret key sent at any time, in any form, is deleted from the chat; when the
deletion fails the user is told so and to revoke the key. Each path through the emulator."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.app import Application
from bot.settings import Settings
from keyboards.logserver import REQUEST_GROUP
from services.crypto import GeneratedKey, KeyVersion
from services.crypto.sequoia_engine import SequoiaEngine
from tests.e2e.test_logserver import FAST, open_logserver, reply_containing
from tests.emulator.actors import UserActor
from tests.emulator.errors import bad_request
from tests.emulator.registry import Call
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import StoredMessage
from tests.harness import run_bot

REFUSED = "That was a secret key. I deleted your message"
NOT_DELETED = "I could not delete your message"


@pytest.fixture
async def app(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> AsyncIterator[Application]:
    async with run_bot(emulator, make_settings(logserver=FAST)) as running:
        yield running


@pytest.fixture(scope="module")
def key() -> GeneratedKey:
    return SequoiaEngine().generate_key("Leaky", version=KeyVersion.V4, passphrase="pw")


def dearmor(armored: str) -> bytes:
    """The binary packets of an armored block (what `gpg --export-secret-keys` writes)."""
    lines = armored.strip().splitlines()
    body = lines[lines.index("") + 1 : -1]
    return base64.b64decode("".join(line for line in body if not line.startswith("=")))


async def answer_to(user: UserActor, sent: StoredMessage) -> str:
    reply = await user.wait_reply(timeout=20, after=sent)
    return reply.text or ""


def deleted(user: UserActor, sent: StoredMessage) -> bool:
    return user.chat.messages[sent.message_id].deleted


async def test_a_secret_key_pasted_when_no_key_is_expected_is_deleted(
    app: Application, emulator: BotAPIEmulator, key: GeneratedKey
) -> None:
    user = emulator.create_user("Kai", language_code="en")
    sent = await user.send_text(key.secret_armored)
    assert REFUSED in await answer_to(user, sent)
    assert deleted(user, sent)


@pytest.mark.parametrize(
    ("file_name", "binary"),
    [
        ("my-key.sec", False),
        ("backup", True),  # no extension, binary as gpg exports it
        ("notes.txt", False),
        ("secring.gpg", True),
        ("key.asc", False),
        ("IMG_0001.JPG", True),  # any name at all
    ],
)
async def test_a_secret_key_file_of_any_name_is_deleted(
    app: Application, emulator: BotAPIEmulator, key: GeneratedKey, file_name: str, binary: bool
) -> None:
    user = emulator.create_user("Lio", language_code="en")
    content = dearmor(key.secret_armored) if binary else key.secret_armored.encode()
    sent = await user.send_document(content, file_name, mime_type="application/octet-stream")
    assert REFUSED in await answer_to(user, sent)
    assert deleted(user, sent)


async def test_a_secret_key_in_a_caption_or_an_edit_is_deleted(
    app: Application, emulator: BotAPIEmulator, key: GeneratedKey
) -> None:
    user = emulator.create_user("Mio", language_code="en")
    sent = await user.send_document(b"just a file", "a.bin", caption=key.secret_armored[:900])
    assert REFUSED in await answer_to(user, sent)
    assert deleted(user, sent)

    note = await user.send_text("my key follows")
    await user.wait_reply(timeout=20, after=note)
    await user.edit_text(note, key.secret_armored)
    await emulator.wait_until(lambda: deleted(user, note), timeout=20, what="edited key deleted")


async def test_a_secret_key_sent_while_a_key_is_expected_is_deleted_and_nothing_linked(
    app: Application, emulator: BotAPIEmulator, key: GeneratedKey
) -> None:
    user = emulator.create_user("Noa", language_code="ja")
    await open_logserver(user)
    group = emulator.create_supergroup(user, "鍵", is_forum=True)
    await user.share_chat(REQUEST_GROUP, group)
    await reply_containing(emulator, user, "公開鍵")
    sent = await user.send_document(dearmor(key.secret_armored), "key")
    assert "それは秘密鍵でした。メッセージを削除し" in await answer_to(user, sent)
    assert deleted(user, sent)
    # and the public key, sent next as a .txt file, is taken
    public = await user.send_document(key.info.armored.encode(), "public.txt")
    await reply_containing(emulator, user, "準備ができました", since=public)


async def test_when_the_deletion_fails_the_user_is_told_to_revoke_the_key(
    app: Application, emulator: BotAPIEmulator, key: GeneratedKey
) -> None:
    async def cannot_delete(call: Call) -> bool:
        raise bad_request("message can't be deleted")

    emulator.override_method("deleteMessage", cannot_delete)
    user = emulator.create_user("Ona", language_code="en")
    sends: list[Callable[[], Awaitable[StoredMessage]]] = [
        lambda: user.send_text(key.secret_armored),
        lambda: user.send_document(key.secret_armored.encode(), "x.sec"),
    ]
    for send in sends:
        sent = await send()
        text = await answer_to(user, sent)
        assert NOT_DELETED in text
        assert "revoke it and make a new one" in text
        assert not deleted(user, sent)


async def test_other_files_are_not_taken_for_keys_when_none_is_expected(
    app: Application, emulator: BotAPIEmulator
) -> None:
    user = emulator.create_user("Pei", language_code="en")
    sent = await user.send_document(b"shopping list: tea, rice", "notes.txt")
    text = await answer_to(user, sent)
    assert "can't handle this kind of message" in text
    assert "waiting for a key" not in text
    assert not deleted(user, sent)


async def test_a_text_file_quoting_a_public_key_is_not_taken_for_a_key_when_none_is_expected(
    app: Application, emulator: BotAPIEmulator, key: GeneratedKey
) -> None:
    # Issue 18: only an expected key upload (or a file named as a key) is read as a key.
    user = emulator.create_user("Qin", language_code="en")
    notes = f"my notes, with a key I was given:\n{key.info.armored}".encode()
    sent = await user.send_document(notes, "notes.txt", mime_type="text/plain")
    text = await answer_to(user, sent)
    assert "can't handle this kind of message" in text
    assert "waiting for a key" not in text
    assert not deleted(user, sent)
