"""Issue 11: the browser reader. Headless chromium opens a synthesised Telegram Desktop export
(result.json + files, chosen as a folder) and two secret keys (a key change), decrypts and
verifies every record with OpenPGP.js, and flags each kind of tampering; nothing is uploaded."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, Request

from bot.settings import Settings
from keyboards.logserver import REQUEST_GROUP
from services.crypto import ContextLock, GeneratedKey, KeyVersion, LogRecord, RecordContext
from services.crypto.port import SigningKey
from services.crypto.records import GENESIS_DIGEST, encode_record, record_digest
from services.crypto.sequoia_engine import SequoiaEngine
from services.logserver import LogServerSettings, RecordKind
from services.sendbudget.config import SendBudgetSettings
from tests.e2e.test_logserver import (
    crypto_of,
    open_logserver,
    reply_containing,
    service_of,
    wait_queued,
)
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import Chat
from tests.harness import run_bot
from tests.webapp.conftest import Served

PASSPHRASE = "correct horse battery staple"
GROUP_EXPORT_ID = 2_222_333_444
CHAT_ID = -(1_000_000_000_000 + GROUP_EXPORT_ID)
TOPICS = {"Conversations": 10, "Billing": 11, "System": 12}
CHAT = RecordContext(CHAT_ID, 10)
BILLING = RecordContext(CHAT_ID, 11)
SYSTEM = RecordContext(CHAT_ID, 12)
T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def signing_key(engine: SequoiaEngine, name: str) -> SigningKey:
    made = engine.generate_key(name)
    return SigningKey(made.info.fingerprint, made.info.armored, made.secret_armored, None)


@dataclass
class Keys:
    engine: SequoiaEngine
    server: SigningKey
    impostor: SigningKey
    old: GeneratedKey  # v4, passphrase-protected: the first records
    new: GeneratedKey  # v6: after a key change


@pytest.fixture(scope="module")
def keys() -> Keys:
    engine = SequoiaEngine()
    return Keys(
        engine,
        signing_key(engine, "Libral test server"),
        signing_key(engine, "Impostor"),
        engine.generate_key("Aiko", version=KeyVersion.V4, passphrase=PASSPHRASE),
        engine.generate_key("Aiko (new)", version=KeyVersion.V6),
    )


@dataclass
class Export:
    """result.json's messages and the files beside it, before they are written out."""

    messages: list[dict[str, Any]]
    files: dict[str, str]
    by_seq: dict[int, int] = field(default_factory=dict)  # seq → index in messages
    records: list[tuple[LogRecord, RecordContext]] = field(default_factory=list)

    def write(self, folder: Path) -> Path:
        root = folder / "ChatExport_2026-11-22"
        (root / "files").mkdir(parents=True)
        doc = {"name": "My Libral log", "type": "private_supergroup", "id": GROUP_EXPORT_ID}
        doc["messages"] = self.messages
        (root / "result.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
        for name, content in self.files.items():
            (root / name).write_text(content, "utf-8")
        return root


def record_message(mid: int, ctx: RecordContext, armored: str) -> dict[str, Any]:
    return {
        "id": mid,
        "type": "message",
        "date": "2026-11-22T12:00:00",
        "from": "Libral",
        "reply_to_message_id": ctx.thread_id,
        "text": [{"type": "hashtag", "text": "#log"}, "\n" + armored],
        "text_entities": [
            {"type": "hashtag", "text": "#log"},
            {"type": "plain", "text": "\n"},
            {"type": "pre", "text": armored, "language": ""},
        ],
    }


def build(keys: Keys) -> Export:
    """seq 0 (System), 1-3 as one coalesced .asc document (Conversations), 4 (Billing), and 5
    (Conversations) sealed to the new key; the pinned panel carries the head at seq 5."""
    lock = ContextLock(keys.engine, keys.server)
    plan = [SYSTEM, CHAT, CHAT, CHAT, BILLING, CHAT]
    records: list[tuple[LogRecord, RecordContext]] = []
    prev = GENESIS_DIGEST
    for seq, ctx in enumerate(plan):
        record = LogRecord(
            kind="system" if ctx == SYSTEM else "chat" if ctx == CHAT else "billing",
            seq=seq,
            prev=prev,
            body={"event": f"event {seq}", "text": f"こんにちは {seq}"},
            ts=T0 + timedelta(minutes=seq),
        )
        records.append((record, ctx))
        prev = record_digest(encode_record(record, ctx))
    messages: list[dict[str, Any]] = [
        {"id": tid, "type": "service", "action": "topic_created", "title": title, "text": ""}
        for title, tid in TOPICS.items()
    ]
    head = lock.sign_head(CHAT_ID, 5, prev, T0 + timedelta(minutes=6))
    messages.append(
        {"id": 20, "type": "message", "from": "Libral", "text": "Libral log server\n\n" + head}
    )
    export = Export(messages, {})
    old, new = keys.old.info.armored, keys.new.info.armored
    export.by_seq[0] = len(messages)
    messages.append(
        record_message(100, SYSTEM, lock.seal_record(records[0][0], old, SYSTEM).armored)
    )
    document = lock.seal_document(records[1:4], old)
    export.files["files/libral-chat-1-3.asc"] = document.armored
    attached = record_message(101, CHAT, "")
    attached |= {"text": "#chat", "text_entities": [], "file": "files/libral-chat-1-3.asc"}
    attached["file_name"] = "libral-chat-1-3.asc"
    export.by_seq[1] = len(messages)
    messages.append(attached)
    export.by_seq[4] = len(messages)
    messages.append(
        record_message(102, BILLING, lock.seal_record(records[4][0], old, BILLING).armored)
    )
    export.by_seq[5] = len(messages)
    messages.append(record_message(103, CHAT, lock.seal_record(records[5][0], new, CHAT).armored))
    export.files[f"libral-server-{keys.server.fingerprint[-16:]}.asc"] = keys.server.public_armored
    export.records = records
    return export


# ---------------------------------------------------------------------- tampering


def drop(seq: int) -> Callable[[Export, Keys], None]:
    def apply(export: Export, keys: Keys) -> None:
        del export.messages[export.by_seq[seq]]

    return apply


def flip_a_byte(export: Export, keys: Keys) -> None:
    msg = export.messages[export.by_seq[4]]
    armored = msg["text_entities"][2]["text"]
    lines = armored.splitlines()
    middle = len(lines) // 2
    line = lines[middle]
    lines[middle] = line[:10] + ("A" if line[10] != "A" else "B") + line[11:]
    forged = "\n".join(lines)
    export.messages[export.by_seq[4]] = record_message(102, BILLING, forged)


def reorder(export: Export, keys: Keys) -> None:
    a, b = export.by_seq[4], export.by_seq[5]
    export.messages[a], export.messages[b] = export.messages[b], export.messages[a]


def move(export: Export, keys: Keys) -> None:
    export.messages[export.by_seq[4]]["reply_to_message_id"] = CHAT.thread_id


def lose_the_file(export: Export, keys: Keys) -> None:
    del export.files["files/libral-chat-1-3.asc"]


def forge(export: Export, keys: Keys) -> None:
    impostor = ContextLock(keys.engine, keys.impostor)
    record = export.records[4][0]
    armored = impostor.seal_record(record, keys.old.info.armored, BILLING).armored
    export.messages[export.by_seq[4]] = record_message(102, BILLING, armored)


def _document_message(export: Export) -> dict[str, Any]:
    return export.messages[export.by_seq[1]]


def drop_the_document(export: Export, keys: Keys) -> None:
    del export.messages[export.by_seq[1]]


def move_the_document(export: Export, keys: Keys) -> None:
    _document_message(export)["reply_to_message_id"] = BILLING.thread_id


def reorder_the_document(export: Export, keys: Keys) -> None:
    a, b = export.by_seq[1], export.by_seq[4]
    export.messages[a], export.messages[b] = export.messages[b], export.messages[a]


def flip_a_byte_in_the_document(export: Export, keys: Keys) -> None:
    name = "files/libral-chat-1-3.asc"
    lines = export.files[name].splitlines()
    line = lines[len(lines) // 2]
    lines[len(lines) // 2] = line[:10] + ("A" if line[10] != "A" else "B") + line[11:]
    export.files[name] = "\n".join(lines) + "\n"


def forge_the_document(export: Export, keys: Keys) -> None:
    """The same records, signed and encrypted to the user's key by someone else."""
    impostor = ContextLock(keys.engine, keys.impostor)
    forged = impostor.seal_document(export.records[1:4], keys.old.info.armored)
    export.files["files/libral-chat-1-3.asc"] = forged.armored


def a_file_from_an_older_version(export: Export, keys: Keys) -> None:
    """Earlier versions put records 1-3 in one file as three messages one after another."""
    lock = ContextLock(keys.engine, keys.server)
    export.files["files/libral-chat-1-3.asc"] = "\n".join(
        lock.seal_record(record, keys.old.info.armored, ctx).armored.strip() + "\n"
        for record, ctx in export.records[1:4]
    )


def moved_here_from_another_group(export: Export, keys: Keys) -> None:
    """The log moved to this group at seq 1: seq 0 is in the old group, and the head says so."""
    del export.messages[export.by_seq[0]]
    panel = next(m for m in export.messages if m["id"] == 20)
    last = export.records[-1]
    digest = record_digest(encode_record(*last))
    head = ContextLock(keys.engine, keys.server).sign_head(
        CHAT_ID, 5, digest, T0 + timedelta(minutes=6), first=1
    )
    panel["text"] = "Libral log server\n\n" + head


def forge_the_head(export: Export, keys: Keys) -> None:
    panel = next(m for m in export.messages if m["id"] == 20)
    panel["text"] = panel["text"].replace('"seq":5', '"seq":9')


SCENARIOS: dict[str, tuple[Callable[[Export, Keys], None] | None, set[tuple[str, int | None]]]] = {
    "clean": (None, set()),
    "flipped-byte": (flip_a_byte, {("damaged", None), ("missing", 5)}),
    "dropped": (drop(4), {("missing", 5)}),
    "reordered": (reorder, {("reordered", 4)}),
    "moved": (move, {("moved", 4)}),
    "first-missing": (drop(0), {("missing", 0)}),
    "last-missing": (drop(5), {("missing", 5)}),
    "file-missing": (lose_the_file, {("file-missing", None), ("missing", 4)}),
    "forged": (forge, {("forged", 4), ("missing", 5)}),
    "head-forged": (forge_the_head, {("head-forged", 9), ("no-head", None)}),
    # The same checks when the records travel in a coalesced document (one .asc message).
    "document-dropped": (drop_the_document, {("missing", 4)}),
    "document-moved": (move_the_document, {("moved", 1), ("moved", 2), ("moved", 3)}),
    "document-reordered": (reorder_the_document, {("reordered", 1)}),
    "document-flipped-byte": (flip_a_byte_in_the_document, {("damaged", None), ("missing", 4)}),
    "document-forged": (forge_the_document, {("forged", None), ("missing", 4)}),
    # A log that moved here is complete from the head's `first`: nothing to report.
    "moved-here": (moved_here_from_another_group, set()),
    # Files posted by earlier versions (several messages in one file) still read whole.
    "older-file": (a_file_from_an_older_version, set()),
}


async def read_in_browser(page: Page, served: Served, root: Path, key_files: list[Path]) -> None:
    await page.goto(served.base_url + "/app/reader")
    await page.wait_for_selector("body[data-ready='1']")
    await page.set_input_files("#export", str(root))
    await page.set_input_files("#keys", [str(p) for p in key_files])
    await page.fill("#passphrase", PASSPHRASE)
    await page.click("#read")
    await page.wait_for_selector("body[data-result]", timeout=120_000)


async def findings(page: Page) -> set[tuple[str, int | None]]:
    items = await page.eval_on_selector_all(
        "#findings li", "els => els.map(e => [e.dataset.kind, e.dataset.seq ?? null])"
    )
    return {(kind, int(seq) if seq is not None else None) for kind, seq in items}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_the_browser_reader_verifies_an_export_and_flags_tampering(
    served: Served, page: Page, keys: Keys, tmp_path: Path, scenario: str
) -> None:
    tamper, expected = SCENARIOS[scenario]
    export = build(keys)
    if tamper is not None:
        tamper(export, keys)
    root = export.write(tmp_path)
    key_files = []
    for name, key in (("old.asc", keys.old), ("new.asc", keys.new)):
        path = tmp_path / name
        path.write_text(key.secret_armored, "utf-8")
        key_files.append(path)

    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))
    await read_in_browser(page, served, root, key_files)

    found = await findings(page)
    verdict = await page.get_attribute("body", "data-result")
    if not expected:
        assert found == set()
        assert verdict == "clean"
        total = 5 if scenario == "moved-here" else 6
        assert await page.text_content("#summary") == f"{total} of {total} records verified."
        transcript = await page.text_content("#transcript") or ""
        assert "こんにちは 3" in transcript  # inside the coalesced document
        assert "こんにちは 5" in transcript  # sealed to the new key
    else:
        assert verdict == "problems", found
        assert expected <= found, found
    # Nothing left the page but requests for its own files: no upload, no other site.
    assert sent
    for request in sent:
        assert request.method == "GET", request.url
        assert request.post_data is None
        assert request.url.startswith(served.base_url + "/app/"), request.url
        assert "result.json" not in request.url


async def test_wrong_passphrase_and_missing_server_key_are_explained(
    served: Served, page: Page, keys: Keys, tmp_path: Path
) -> None:
    export = build(keys)
    server_file = next(n for n in export.files if n.startswith("libral-server-"))
    del export.files[server_file]
    root = export.write(tmp_path)
    key_file = tmp_path / "old.asc"
    key_file.write_text(keys.old.secret_armored, "utf-8")
    await page.goto(served.base_url + "/app/reader")
    await page.wait_for_selector("body[data-ready='1']")
    await page.set_input_files("#export", str(root))
    await page.set_input_files("#keys", [str(key_file)])
    await page.fill("#passphrase", "wrong")
    await page.click("#read")
    await page.wait_for_selector("body[data-result='error']")
    assert "does not unlock old.asc" in (await page.text_content("#status") or "")
    await page.fill("#passphrase", PASSPHRASE)
    await page.click("#read")
    await page.wait_for_selector("body[data-result='error']")
    assert "server key is missing" in (await page.text_content("#status") or "")


# ---------------------------------------------------------------------- the bot's own output


def export_of(emulator: BotAPIEmulator, group: Chat, folder: Path, server_cert: str) -> Path:
    """The log group as Telegram Desktop exports it (JSON, with files)."""
    root = folder / "ChatExport_bot"
    (root / "files").mkdir(parents=True)
    messages: list[dict[str, Any]] = [
        {"id": t.thread_id, "type": "service", "action": "topic_created", "title": t.name}
        for t in group.topics.values()
    ]
    for message in emulator.messages(group, from_bot=True):
        out: dict[str, Any] = {"id": message.message_id, "type": "message", "from": "Libral"}
        if message.thread_id is not None:
            out["reply_to_message_id"] = message.thread_id
        out["text"] = message.text or message.caption or ""
        if message.document is not None:
            name = message.document["file_name"]
            content = emulator.state.files[message.document["file_id"]].content
            (root / "files" / name).write_bytes(content)
            out |= {"file": f"files/{name}", "file_name": name}
        messages.append(out)
    export_id = -group.id - 1_000_000_000_000
    doc = {"name": group.title, "type": "private_supergroup", "id": export_id, "messages": messages}
    (root / "result.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    (root / "libral-server-current.asc").write_text(server_cert, "utf-8")
    return root


async def test_the_browser_reader_reads_what_the_bot_posted(
    emulator: BotAPIEmulator,
    webapp_settings: Callable[..., Settings],
    page: Page,
    keys: Keys,
    tmp_path: Path,
) -> None:
    # Eight sends a minute: a backed-up queue goes out as coalesced documents.
    fast = LogServerSettings(poll_interval=0.05, backoff_initial=0.05)
    settings = webapp_settings(logserver=fast, sendbudget=SendBudgetSettings(group_per_minute=8))
    async with run_bot(emulator, settings) as app:
        base_url = f"http://127.0.0.1:{settings.http_port}"
        user = emulator.create_user("Aiko", language_code="en")
        await open_logserver(user)
        group = emulator.create_supergroup(user, "Bot output", is_forum=True)
        await user.share_chat(REQUEST_GROUP, group)
        await reply_containing(emulator, user, "Now your key")
        await user.send_text(keys.old.info.armored)
        await reply_containing(emulator, user, "is ready")
        service = service_of(app)
        for n in range(12):
            await service.record(user.id, RecordKind.CHAT, {"prompt": f"質問 {n}", "answer": "42"})
        await wait_queued(app, user.id, 0)
        documents = [m for m in emulator.messages(group, from_bot=True) if m.document]
        assert documents, "nothing was coalesced"
        crypto = crypto_of(app)
        lock = ContextLock(crypto.engine, server_certs=crypto.verification_certs)

        def head_at_last() -> Any:
            text = group.messages[group.pinned[-1]].text or "" if group.pinned else ""
            head = lock.verify_head(text)
            return head if head is not None and head.seq == 12 else None

        # The pinned panel carries the signed head of the last record once the queue is empty.
        await emulator.wait_until(head_at_last, 120, what="the signed head at seq 12")
        server_cert = crypto.server_key.public_armored
        root = export_of(emulator, group, tmp_path, server_cert)
        key_file = tmp_path / "key.asc"
        key_file.write_text(keys.old.secret_armored, "utf-8")

        await page.goto(base_url + "/app/reader")
        await page.wait_for_selector("body[data-ready='1']")
        await page.set_input_files("#export", str(root))
        await page.set_input_files("#keys", [str(key_file)])
        await page.fill("#passphrase", PASSPHRASE)
        await page.click("#read")
        await page.wait_for_selector("body[data-result]", timeout=120_000)
        # The setup record and the 12 chat records, every one verified, complete up to the
        # signed head on the panel: nothing to report.
        assert await page.text_content("#summary") == "13 of 13 records verified."
        assert await findings(page) == set()
        assert await page.get_attribute("body", "data-result") == "clean"
        assert "質問 11" in (await page.text_content("#transcript") or "")
