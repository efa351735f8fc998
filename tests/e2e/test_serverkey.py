"""/serverkey end to end: the real application publishes its signing key and fingerprint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pysequoia as ps
import pytest

from bot.app import Application
from bot.settings import Settings
from services.crypto.port import format_fingerprint
from tests.emulator.server import BotAPIEmulator
from tests.harness import run_bot


@pytest.fixture
async def app(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> AsyncIterator[Application]:
    async with run_bot(emulator, make_settings(), "polling") as running:
        yield running


async def test_serverkey_sends_fingerprint_and_public_key(
    app: Application, emulator: BotAPIEmulator
) -> None:
    user = emulator.create_user("Ren", language_code="en")
    sent = await user.send_text("/serverkey")
    text = await user.wait_reply(after=sent)
    document = await emulator.wait_for(
        lambda m: m.from_bot and "document" in m.data, 5.0, chat=user.chat, since=text
    )
    stored = emulator.state.files[document.data["document"]["file_id"]]
    assert stored.file_name is not None
    assert stored.file_name.startswith("libral-server-")
    assert stored.file_name.endswith(".asc")
    public = stored.content.decode()
    assert "BEGIN PGP PUBLIC KEY BLOCK" in public
    assert "PRIVATE" not in public
    fingerprint = ps.Cert.from_bytes(stored.content).fingerprint.upper()
    assert fingerprint == app.dispatcher["crypto"].server_key.fingerprint
    assert format_fingerprint(fingerprint) in (text.text or "")
    assert "Libral's signing key" in (text.text or "")
