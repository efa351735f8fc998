"""Issue 11: a key pair made on the user's device. Headless chromium opens the Mini App from the
onboarding button with valid initData, OpenPGP.js makes the key, the bot links its public key,
and the records the bot then posts decrypt (with gpg alone) with the secret key the page saved.
Neither the secret key nor its passphrase reaches the server; forged and stale initData are
refused."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, Request

from bot.db.models.logserver import LogServer, LogServerState
from keyboards.logserver import REQUEST_GROUP
from services.crypto import ContextLock, KeyVersion
from services.crypto.sequoia_engine import SequoiaEngine
from services.logserver import RecordKind
from tests.e2e.test_logserver import (
    crypto_of,
    database_dump,
    open_logserver,
    reply_containing,
    service_of,
    wait_records,
)
from tests.emulator.actors import UserActor
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import Chat, StoredMessage
from tests.webapp.conftest import PUBLIC_URL, Served
from tests.webapp.support import fragment, sign_init_data, telegram_user


@dataclass
class Sent:
    method: str
    url: str
    body: str


def record_requests(page: Page) -> list[Sent]:
    sent: list[Sent] = []

    def on_request(request: Request) -> None:
        sent.append(Sent(request.method, request.url, request.post_data or ""))

    page.on("request", on_request)
    return sent


async def awaiting_key(
    served: Served, emulator: BotAPIEmulator, user: UserActor, needle: str = "Now your key"
) -> tuple[Chat, StoredMessage]:
    await open_logserver(user)
    group = emulator.create_supergroup(user, "Device key", is_forum=True)
    await user.share_chat(REQUEST_GROUP, group)
    prompt = await reply_containing(emulator, user, needle)
    return group, prompt


def keygen_button(prompt: StoredMessage) -> str:
    (button,) = prompt.inline_buttons
    assert button["text"] == "Make a key on this device"
    url: str = button["web_app"]["url"]
    assert url == PUBLIC_URL + "/app/keygen"
    return url


def other_key(name: str) -> str:
    """The public key of a key pair made elsewhere."""
    return SequoiaEngine().generate_key(name, version=KeyVersion.V4, passphrase="pw").info.armored


def gpg(home: Path, *args: str, input_: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--yes", "--status-fd", "2", *args],
        input=input_,
        capture_output=True,
        check=False,
        timeout=60,
    )


async def test_a_key_made_on_the_device_is_linked_and_opens_the_records(
    served: Served, emulator: BotAPIEmulator, page: Page, tmp_path: Path
) -> None:
    user = emulator.create_user("Aiko", language_code="en")
    group, prompt = await awaiting_key(served, emulator, user)
    assert "made <b>on your device</b>" in prompt.data.get("text", "") or "on your device" in (
        prompt.text or ""
    )
    url = keygen_button(prompt)
    sent = record_requests(page)

    # Forged initData first (signed with another bot's token): the page offers nothing and
    # the API refuses a key, so nothing is linked.
    forged = sign_init_data("1234:another-bot", telegram_user(user.id, "en"))
    await page.goto(served.local(url) + fragment(forged))
    await page.wait_for_selector("body[data-ready='1']")
    assert "could not be checked" in (await page.text_content("#status") or "")
    assert not await page.is_visible("#make")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            served.base_url + "/app/api/keygen/public-key",
            json={"public_key": other_key("Other")},
            headers={"Authorization": "tma " + forged},
        ) as response,
    ):
        assert response.status == 403
    async with served.app.sessionmaker() as session:
        waiting = await session.get(LogServer, user.id)
        assert waiting is not None
        assert waiting.state is LogServerState.AWAITING_KEY

    init = sign_init_data(emulator.token, telegram_user(user.id, "en"))
    await page.goto("about:blank")  # the same URL with a new fragment would not load again
    await page.goto(served.local(url) + fragment(init))
    await page.wait_for_selector("body[data-ready='1']")
    assert await page.is_visible("#make")
    passphrase = await page.input_value("#passphrase")
    assert len(passphrase) == 35
    await page.click("#generate")
    await page.wait_for_selector("#save:not([hidden])", timeout=60_000)
    assert "Fingerprint" in (await page.text_content("#made") or "")
    async with page.expect_download() as downloading:
        await page.click("#download")
    download = await downloading.value
    assert download.suggested_filename == "libral-secret-key.asc"
    secret = await asyncio.to_thread(Path(await download.path()).read_text, "utf-8")
    assert "BEGIN PGP PRIVATE KEY BLOCK" in secret

    assert await page.is_disabled("#send")
    await page.check("#saved")
    await page.click("#send")
    await page.wait_for_selector("#result.ok")
    assert "Done" in (await page.text_content("#result") or "")

    # The bot linked it exactly as a pasted key: the same messages, topics, setup record.
    await reply_containing(emulator, user, "Key accepted")
    await reply_containing(emulator, user, "is ready")
    app = served.app
    async with app.sessionmaker() as session:
        server = await session.get(LogServer, user.id)
        assert server is not None
        assert server.state is LogServerState.ACTIVE
        fingerprint = server.key_fingerprint
    assert fingerprint is not None
    assert (
        fingerprint.replace(" ", "").upper()
        in (await page.text_content("#result") or "").replace(" ", "").upper()
    )

    await service_of(app).record(user.id, RecordKind.CHAT, {"prompt": "hello", "answer": "hi"})
    posted = await wait_records(app, emulator, group, 2)

    # Our reader opens them with the page's secret key ...
    crypto = crypto_of(app)
    lock = ContextLock(crypto.engine, server_certs=crypto.verification_certs)
    opened = [lock.open_record(p.armored, secret, passphrase) for p in posted]
    assert all(o.ok for o in opened)
    assert sorted(o.record.body.get("event", o.record.kind) for o in opened) == ["chat", "setup"]
    # ... and so does gpg alone.
    if shutil.which("gpg") is not None:
        home = tmp_path / "gnupg"
        home.mkdir(mode=0o700)
        imported = gpg(
            home,
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase,
            "--import",
            input_=secret.encode(),
        )
        assert imported.returncode == 0, imported.stderr.decode(errors="replace")
        server_key = crypto.server_key
        assert gpg(home, "--import", input_=server_key.public_armored.encode()).returncode == 0
        for item in posted:
            out = gpg(
                home,
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                passphrase,
                "--decrypt",
                input_=item.armored.encode(),
            )
            status = out.stderr.decode(errors="replace")
            assert out.returncode == 0, status
            assert "VALIDSIG" in status, status
            assert server_key.fingerprint.upper() in status, status
            assert json.loads(out.stdout)["ctx"]["chat_id"] == group.id

    # Only the public key left the page; nothing of the secret key or passphrase was sent.
    secret_body = "".join(secret.splitlines()[3:8])
    assert all(passphrase not in s.body and secret_body not in s.body for s in sent)
    assert all(s.url.startswith(served.base_url) for s in sent)
    posts = [s for s in sent if s.method == "POST"]
    assert [s.url for s in posts] == [served.base_url + "/app/api/keygen/public-key"]
    assert "BEGIN PGP PUBLIC KEY BLOCK" in json.loads(posts[0].body)["public_key"]
    dump = await database_dump(app)
    assert passphrase not in dump
    assert secret_body not in dump


async def test_the_page_speaks_japanese_for_a_japanese_user(
    served: Served, emulator: BotAPIEmulator, page: Page
) -> None:
    user = emulator.create_user("Hana", language_code="ja")
    _group, prompt = await awaiting_key(served, emulator, user, "次は鍵です")
    (button,) = prompt.inline_buttons
    assert button["text"] == "この端末で鍵を作る"
    init = sign_init_data(emulator.token, telegram_user(user.id, "ja"))
    await page.goto(served.local(button["web_app"]["url"]) + fragment(init))
    await page.wait_for_selector("body[data-ready='1']")
    assert await page.text_content("h1") == "ログ用の鍵を作る"
    assert await page.text_content("#generate") == "鍵を作る"


async def test_forged_and_stale_init_data_are_refused_and_link_nothing(
    served: Served, emulator: BotAPIEmulator, page: Page
) -> None:
    user = emulator.create_user("Eve", language_code="en")
    await awaiting_key(served, emulator, user)
    # A public key of a key made elsewhere: the request itself must not get through.
    public = other_key("Other")
    other_bot = sign_init_data("1234:another-bot", telegram_user(user.id))
    tampered = sign_init_data(emulator.token, telegram_user(999)).replace("999", str(user.id))
    stale = sign_init_data(
        emulator.token, telegram_user(user.id), auth_date=datetime.now(UTC) - timedelta(hours=2)
    )
    async with aiohttp.ClientSession() as http:
        for init, reason in ((other_bot, "invalid"), (tampered, "invalid"), (stale, "stale")):
            async with http.post(
                served.base_url + "/app/api/keygen/public-key",
                json={"public_key": public},
                headers={"Authorization": "tma " + init},
            ) as response:
                assert response.status == 403
                assert await response.json() == {"error": reason}
    async with served.app.sessionmaker() as session:
        server = await session.get(LogServer, user.id)
        assert server is not None
        assert server.public_key is None
        assert server.state is LogServerState.AWAITING_KEY

    # The page says so, in the user's language, and offers nothing to do.
    await page.goto(served.base_url + "/app/keygen" + fragment(tampered))
    await page.wait_for_selector("body[data-ready='1']")
    assert "could not be checked" in (await page.text_content("#status") or "")
    assert not await page.is_visible("#make")


async def test_the_page_says_when_no_key_is_expected(
    served: Served, emulator: BotAPIEmulator, page: Page
) -> None:
    user = emulator.create_user("Ren", language_code="en")
    init = sign_init_data(emulator.token, telegram_user(user.id))
    await page.goto(served.base_url + "/app/keygen" + fragment(init))
    await page.wait_for_selector("body[data-ready='1']")
    assert "not waiting for a key" in (await page.text_content("#status") or "")
    assert not await page.is_visible("#make")
    async with aiohttp.ClientSession() as http:
        public = other_key("Ren")
        headers = {"Authorization": "tma " + init}
        url = served.base_url + "/app/api/keygen/public-key"
        async with http.post(url, json={"public_key": public}, headers=headers) as response:
            assert (response.status, await response.json()) == (409, {"error": "not-expected"})
        async with http.post(url, data=b"not json", headers=headers) as response:
            assert (response.status, await response.json()) == (400, {"error": "bad-request"})


@pytest.mark.parametrize("language", ["en"])
async def test_without_a_public_url_no_mini_app_button_is_offered(
    emulator: BotAPIEmulator, make_settings: object, language: str
) -> None:
    from tests.harness import run_bot

    async with run_bot(emulator, make_settings()):  # type: ignore[operator]
        user = emulator.create_user("Sol", language_code=language)
        await open_logserver(user)
        group = emulator.create_supergroup(user, "No app", is_forum=True)
        await user.share_chat(REQUEST_GROUP, group)
        prompt = await reply_containing(emulator, user, "Now your key")
        assert prompt.inline_buttons == []
        assert "on your device" not in (prompt.text or "")
