"""Context-Lock records and the reader: tampering is flagged, a clean export reads clean."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import reader as reader_cli
from bot.i18n import Translator
from services.crypto import reader
from services.crypto.port import GeneratedKey, OpenPGPEngine, SigningKey
from services.crypto.records import (
    GENESIS_DIGEST,
    ContextLock,
    LogRecord,
    RecordContext,
    RecordOpenError,
    RecordProblem,
    SealedRecord,
    decode_record,
    encode_record,
)
from tests.crypto_support import PASSPHRASE, dearmor

GROUP_EXPORT_ID = 2_222_333_444
CHAT_ID = -(1_000_000_000_000 + GROUP_EXPORT_ID)
CONVERSATIONS = RecordContext(CHAT_ID, 10)
BILLING = RecordContext(CHAT_ID, 11)


def make_chain(
    lock: ContextLock, recipient: str, contexts: list[RecordContext]
) -> list[SealedRecord]:
    sealed: list[SealedRecord] = []
    prev = GENESIS_DIGEST
    for seq, ctx in enumerate(contexts):
        record = LogRecord(
            kind="chat" if ctx == CONVERSATIONS else "billing",
            seq=seq,
            prev=prev,
            body={"text": f"message {seq}\nsecond line", "tokens": seq * 10},
            ts=datetime(2026, 11, 22, 12, seq, tzinfo=UTC),
        )
        item = lock.seal_record(record, recipient, ctx)
        sealed.append(item)
        prev = item.digest
    return sealed


def test_encode_decode_round_trip() -> None:
    record = LogRecord("audit", 3, "a" * 64, {"x": [1, "二"]}, datetime(2026, 1, 2, tzinfo=UTC))
    data = encode_record(record, RecordContext(-5, None))
    assert decode_record(data) == (record, RecordContext(-5, None))
    assert b" " not in data  # canonical: no spaces
    for broken in (b"[]", b"{}", b"not json", data.replace(b'"v":1', b'"v":2')):
        with pytest.raises(ValueError):
            decode_record(broken)


def test_record_validation() -> None:
    with pytest.raises(ValueError):
        LogRecord("", 1, GENESIS_DIGEST, {})
    with pytest.raises(ValueError):
        LogRecord("chat", -1, GENESIS_DIGEST, {})
    with pytest.raises(ValueError):
        LogRecord("chat", 1, "short", {})
    with pytest.raises(ValueError):
        LogRecord("chat", 1, GENESIS_DIGEST, {}, ts=datetime(2026, 1, 1))


def test_open_checks_signature_context_and_chain(
    any_engine: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    other_server_key: SigningKey,
) -> None:
    lock = ContextLock(any_engine, server_key)
    first, second = make_chain(lock, user_v4.info.armored, [CONVERSATIONS, BILLING])
    secret = user_v4.secret_armored
    ok = lock.open_record(second.armored, secret, PASSPHRASE, BILLING, first.digest)
    assert ok.ok
    assert ok.record.seq == 1
    assert ok.digest == second.digest
    assert ok.signer_fingerprint == server_key.fingerprint
    moved = lock.open_record(second.armored, secret, PASSPHRASE, CONVERSATIONS, first.digest)
    assert moved.problems == {RecordProblem.MOVED}
    other_group = lock.open_record(second.armored, secret, PASSPHRASE, RecordContext(-1, 11))
    assert other_group.problems == {RecordProblem.MOVED}
    reordered = lock.open_record(first.armored, secret, PASSPHRASE, CONVERSATIONS, second.digest)
    assert reordered.problems == {RecordProblem.CHAIN_BROKEN}
    impostor = ContextLock(any_engine, other_server_key, [server_key.public_armored])
    forged = impostor.seal_record(
        LogRecord("chat", 1, first.digest, {"text": "fake"}), user_v4.info.armored, BILLING
    )
    verifier = ContextLock(any_engine, None, [server_key.public_armored])
    result = verifier.open_record(forged.armored, secret, PASSPHRASE, BILLING, first.digest)
    assert result.problems == {RecordProblem.FORGED}


def test_flipped_byte_cannot_be_opened(
    any_engine: OpenPGPEngine, user_v4: GeneratedKey, server_key: SigningKey
) -> None:
    lock = ContextLock(any_engine, server_key)
    (sealed,) = make_chain(lock, user_v4.info.armored, [CONVERSATIONS])
    binary = bytearray(dearmor(sealed.armored.encode()))
    binary[len(binary) // 2 + 40] ^= 0x10
    with pytest.raises(RecordOpenError):
        lock.open_record(bytes(binary), user_v4.secret_armored, PASSPHRASE)


def test_old_server_keys_still_verify(
    any_engine: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    other_server_key: SigningKey,
) -> None:
    old = ContextLock(any_engine, server_key)
    (sealed,) = make_chain(old, user_v4.info.armored, [CONVERSATIONS])
    rotated = ContextLock(any_engine, other_server_key, [server_key.public_armored])
    opened = rotated.open_record(sealed.armored, user_v4.secret_armored, PASSPHRASE)
    assert opened.ok
    assert opened.signer_fingerprint == server_key.fingerprint


# ---------------------------------------------------------------- Telegram Desktop export


def flip_armor_byte(armored: str) -> str:
    binary = bytearray(dearmor(armored.encode()))
    binary[-30] ^= 0x01
    import pysequoia as ps

    return ps.armor(bytes(binary), ps.ArmorKind.Message)


# One posted message of an export: its topic, its armored text and extra JSON fields.
ExportItem = tuple[RecordContext, str, dict[str, Any]]


def export_json(
    messages: list[ExportItem],
    *,
    explicit_thread: bool = False,
    head: str | None = None,
) -> dict[str, Any]:
    """A result.json as Telegram Desktop writes it for a forum supergroup; ``head`` is the
    signed head the pinned panel message ends with."""
    out: list[dict[str, Any]] = [
        {
            "id": 10,
            "type": "service",
            "date": "2026-11-22T11:00:00",
            "action": "topic_created",
            "title": "Conversations",
            "text": "",
            "text_entities": [],
        },
        {
            "id": 11,
            "type": "service",
            "date": "2026-11-22T11:00:01",
            "action": "topic_created",
            "title": "Billing",
            "text": "",
            "text_entities": [],
        },
    ]
    next_id = 100
    for ctx, armored, extra in messages:
        header = "#chat #d20261122\n" if ctx.thread_id == 10 else "#billing\n"
        msg: dict[str, Any] = {
            "id": next_id,
            "type": "message",
            "date": "2026-11-22T12:00:00",
            "from": "Libral",
            "from_id": "user123456",
            "text": [{"type": "hashtag", "text": header.split()[0]}, "\n" + armored],
            "text_entities": [
                {"type": "hashtag", "text": header.split()[0]},
                {"type": "plain", "text": "\n"},
                {"type": "pre", "text": armored, "language": ""},
            ],
        }
        if explicit_thread:
            msg["message_thread_id"] = ctx.thread_id
        else:
            msg["reply_to_message_id"] = ctx.thread_id
        msg.update(extra)
        out.append(msg)
        next_id += 1
    if head is not None:
        panel = "📒 Libral log · active\n\n" + head
        out.append(
            {
                "id": 9,
                "type": "message",
                "date": "2026-11-22T11:00:02",
                "from": "Libral",
                "text": panel,
                "text_entities": [{"type": "plain", "text": panel}],
            }
        )
    return {
        "name": "My Libral log",
        "type": "private_supergroup",
        "id": GROUP_EXPORT_ID,
        "messages": out,
    }


def read_export(
    tmp_path: Path,
    export: dict[str, Any],
    engine: OpenPGPEngine,
    key: GeneratedKey,
    server_key: SigningKey,
) -> reader.ReadResult:
    (tmp_path / "result.json").write_text(json.dumps(export, ensure_ascii=False), "utf-8")
    contents = reader.read_export(tmp_path)
    lock = ContextLock(engine, None, [server_key.public_armored])
    keys = [reader.SecretKey("key.asc", key.secret_armored, PASSPHRASE)]
    return reader.verify(
        contents.title,
        contents.found,
        lock,
        keys,
        contents.findings,
        contents.heads,
        contents.chat_id,
    )


def kinds(result: reader.ReadResult) -> list[tuple[reader.FindingKind, int | None]]:
    return [(f.kind, f.seq) for f in result.findings]


@pytest.fixture
def chain(
    any_engine: OpenPGPEngine, user_v4: GeneratedKey, server_key: SigningKey
) -> list[SealedRecord]:
    lock = ContextLock(any_engine, server_key)
    contexts = [CONVERSATIONS, BILLING, CONVERSATIONS, CONVERSATIONS, BILLING]
    return make_chain(lock, user_v4.info.armored, contexts)


CTXS = [CONVERSATIONS, BILLING, CONVERSATIONS, CONVERSATIONS, BILLING]


def posted(chain: list[SealedRecord]) -> list[ExportItem]:
    """The chain as the delivery posts it: each record in its topic, nothing else."""
    return [(c, s.armored, {}) for c, s in zip(CTXS, chain, strict=True)]


@pytest.fixture
def head(chain: list[SealedRecord], any_engine: OpenPGPEngine, server_key: SigningKey) -> str:
    """The pinned panel's signed head after the whole chain was delivered."""
    return head_of(any_engine, server_key, chain[-1])


def head_of(engine: OpenPGPEngine, server_key: SigningKey, last: SealedRecord) -> str:
    return ContextLock(engine, server_key).sign_head(
        CHAT_ID, last.seq, last.digest, datetime(2026, 11, 22, 13, tzinfo=UTC)
    )


@pytest.mark.parametrize("explicit_thread", [False, True])
def test_clean_export(
    tmp_path: Path,
    chain: list[SealedRecord],
    head: str,
    any_engine: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    explicit_thread: bool,
) -> None:
    export = export_json(
        [(c, s.armored, {}) for c, s in zip(CTXS, chain, strict=True)],
        explicit_thread=explicit_thread,
        head=head,
    )
    result = read_export(tmp_path, export, any_engine, user_v4, server_key)
    assert result.findings == []
    assert result.clean
    assert result.verified_count == 5
    assert reader.chain_starts_at_genesis(result)
    assert [e.found.topic for e in result.entries] == [
        "Conversations",
        "Billing",
        "Conversations",
        "Conversations",
        "Billing",
    ]
    translator = Translator()
    text = reader.render_markdown(result, lambda key, **kw: translator.get("en", key, **kw))
    assert "5 of 5 records" in text
    assert "> second line" in text


def test_dropped_record_is_missing(
    tmp_path: Path,
    chain: list[SealedRecord],
    head: str,
    any_engine: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
) -> None:
    kept = [item for i, item in enumerate(posted(chain)) if i != 2]
    result = read_export(tmp_path, export_json(kept, head=head), any_engine, user_v4, server_key)
    assert kinds(result) == [(reader.FindingKind.MISSING, 3)]
    assert result.findings[0].detail == "2"
    assert not result.clean


def test_swapped_records_are_reordered(
    tmp_path: Path,
    chain: list[SealedRecord],
    head: str,
    any_engine: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
) -> None:
    items = posted(chain)
    items[2], items[3] = items[3], items[2]  # both in Conversations, so contexts still match
    result = read_export(tmp_path, export_json(items, head=head), any_engine, user_v4, server_key)
    assert kinds(result) == [(reader.FindingKind.REORDERED, 2)]


def test_moved_record(
    tmp_path: Path,
    chain: list[SealedRecord],
    head: str,
    any_engine: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
) -> None:
    items = posted(chain)
    items[1] = (CONVERSATIONS, chain[1].armored, {})  # a Billing record re-posted in Conversations
    result = read_export(tmp_path, export_json(items, head=head), any_engine, user_v4, server_key)
    assert kinds(result) == [(reader.FindingKind.MOVED, 1)]
    assert "topic 11" in result.findings[0].detail


def test_flipped_byte_is_damaged(
    tmp_path: Path,
    chain: list[SealedRecord],
    head: str,
    any_engine: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
) -> None:
    items = posted(chain)
    items[4] = (BILLING, flip_armor_byte(chain[4].armored), {})
    result = read_export(tmp_path, export_json(items, head=head), any_engine, user_v4, server_key)
    # the last record is unreadable, so the log also ends before the signed head
    assert kinds(result) == [(reader.FindingKind.DAMAGED, None), (reader.FindingKind.CUT_END, 4)]
    assert result.findings[0].source == "message 104"


def test_forged_record(
    tmp_path: Path,
    chain: list[SealedRecord],
    head: str,
    any_engine: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    other_server_key: SigningKey,
) -> None:
    impostor = ContextLock(any_engine, other_server_key)
    fake = impostor.seal_record(
        LogRecord("chat", 3, chain[2].digest, {"text": "pay me"}),
        user_v4.info.armored,
        CONVERSATIONS,
    )
    items = posted(chain)
    items[3] = (CONVERSATIONS, fake.armored, {})
    result = read_export(tmp_path, export_json(items, head=head), any_engine, user_v4, server_key)
    found = kinds(result)
    assert (reader.FindingKind.FORGED, 3) in found
    assert (reader.FindingKind.MISSING, 4) in found  # the genuine record 3 is gone


def test_missing_document_and_asc_input(
    tmp_path: Path,
    chain: list[SealedRecord],
    head: str,
    any_engine: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
) -> None:
    items = posted(chain)
    doc = {
        "file": "(File not included. Change data exporting settings to download.)",
        "file_name": "records-6.asc",
        "text": "#chat",
        "text_entities": [],
    }
    items.append((CONVERSATIONS, "", doc))
    result = read_export(tmp_path, export_json(items, head=head), any_engine, user_v4, server_key)
    assert kinds(result) == [(reader.FindingKind.FILE_MISSING, None)]

    asc = tmp_path / "two.asc"
    asc.write_text(chain[0].armored + "\n" + chain[1].armored, "utf-8")
    found = reader.records_from_asc([asc], None)
    assert [f.source for f in found] == ["two.asc #1", "two.asc #2"]


def test_reader_cli(
    tmp_path: Path,
    chain: list[SealedRecord],
    head: str,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    export_dir = tmp_path / "ChatExport_2026-11-22"
    export_dir.mkdir()
    items = posted(chain)
    (export_dir / "result.json").write_text(json.dumps(export_json(items, head=head)), "utf-8")
    (export_dir / f"libral-server-{server_key.fingerprint[-16:]}.asc").write_text(
        server_key.public_armored, "utf-8"
    )
    key = tmp_path / "secret.asc"
    key.write_text(user_v4.secret_armored, "utf-8")
    out = tmp_path / "transcript.md"
    monkeypatch.setenv(reader_cli.PASSPHRASE_VAR, PASSPHRASE)
    args = [str(export_dir), "--key", str(key), "--out", str(out), "--lang", "ja"]
    assert reader_cli.main(args) == 0
    assert "5 件中 5 件" in out.read_text("utf-8")

    items.pop(1)
    (export_dir / "result.json").write_text(json.dumps(export_json(items, head=head)), "utf-8")
    assert reader_cli.main([*args[:-1], "en"]) == 1
    assert "are missing" in out.read_text("utf-8")

    monkeypatch.setenv(reader_cli.PASSPHRASE_VAR, "wrong")
    assert reader_cli.main(args) == 2
    assert "パスフレーズ" in capsys.readouterr().err
