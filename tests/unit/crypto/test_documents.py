"""Coalesced documents and the signed head (docs/reader.md "Formats"), on every engine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.crypto import cleartext
from services.crypto.port import GeneratedKey, OpenPGPEngine, SigningKey
from services.crypto.records import (
    DOCUMENT_HEADER,
    GENESIS_DIGEST,
    ContextLock,
    HeadForgedError,
    LogRecord,
    RecordContext,
    RecordOpenError,
    RecordProblem,
    VerifiedRecord,
    encode_record,
    record_digest,
)
from tests.crypto_support import PASSPHRASE

CHAT = -1002222333444
CTX = RecordContext(CHAT, 10)
TS = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def records(
    n: int, start: int = 0, prev: str = GENESIS_DIGEST
) -> list[tuple[LogRecord, RecordContext]]:
    out: list[tuple[LogRecord, RecordContext]] = []
    for seq in range(start, start + n):
        record = LogRecord("chat", seq, prev, {"text": f"line {seq}\n- dash"}, ts=TS)
        out.append((record, CTX))
        prev = record_digest(encode_record(record, CTX))
    return out


def test_document_round_trip(
    any_engine: OpenPGPEngine, user_v4: GeneratedKey, server_key: SigningKey
) -> None:
    lock = ContextLock(any_engine, server_key)
    items = records(3)
    sealed = lock.seal_document(items, user_v4.info.armored)
    assert sealed.seqs == (0, 1, 2)
    assert sealed.digests == tuple(record_digest(encode_record(r, c)) for r, c in items)
    assert sealed.last_digest == sealed.digests[-1]
    assert sealed.message_format == user_v4.info.message_format

    opened = lock.open_document(
        sealed.armored, user_v4.secret_armored, PASSPHRASE, CTX, GENESIS_DIGEST
    )
    assert opened.is_document
    assert opened.signer_fingerprint == server_key.fingerprint
    got = opened.records
    assert [v.record.seq for v in got] == [0, 1, 2]
    assert all(v.ok for v in got)
    assert [v.digest for v in got] == list(sealed.digests)
    assert got[0].record.body == {"text": "line 0\n- dash"}
    # a single record is not a document, and the other way round
    with pytest.raises(RecordOpenError):
        lock.open_record(sealed.armored, user_v4.secret_armored, PASSPHRASE)


def test_document_blocks_verify_on_their_own(
    any_engine: OpenPGPEngine,
    sequoia: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    other_server_key: SigningKey,
) -> None:
    lock = ContextLock(any_engine, server_key)
    sealed = lock.seal_document(records(2), user_v4.info.armored)
    dec = sequoia.decrypt_and_verify(
        sealed.armored, user_v4.secret_armored, PASSPHRASE, [server_key.public_armored]
    )
    text = dec.plaintext.decode()
    assert text.startswith(DOCUMENT_HEADER + "\n\n" + cleartext.BEGIN)
    blocks = cleartext.find_blocks(text)
    assert len(blocks) == 2
    assert "\n\n".join(b.rstrip("\n") for b in blocks) in text  # one blank line between blocks
    for block, (record, ctx) in zip(blocks, records(2), strict=True):
        checked = any_engine.verify_cleartext(block, [server_key.public_armored])
        assert checked.signer_fingerprint == server_key.fingerprint
        assert checked.plaintext == encode_record(record, ctx)
        other = any_engine.verify_cleartext(block, [other_server_key.public_armored])
        assert other.signer_fingerprint is None
        assert other.plaintext == encode_record(record, ctx)  # readable, but not vouched for
        altered = block.replace('"seq":', '"seq":1', 1)
        assert (
            any_engine.verify_cleartext(altered, [server_key.public_armored]).signer_fingerprint
            is None
        )


def test_document_flags_forged_moved_and_chain(
    any_engine: OpenPGPEngine,
    user_v4: GeneratedKey,
    server_key: SigningKey,
    other_server_key: SigningKey,
) -> None:
    impostor = ContextLock(any_engine, other_server_key)
    sealed = impostor.seal_document(records(2), user_v4.info.armored)
    verifier = ContextLock(any_engine, None, [server_key.public_armored])
    opened = verifier.open_message(sealed.armored, user_v4.secret_armored, PASSPHRASE, CTX)
    assert opened.signer_fingerprint is None
    assert [v.problems for v in opened.records] == [{RecordProblem.FORGED}] * 2

    lock = ContextLock(any_engine, server_key)
    genuine = lock.seal_document(records(2, start=5, prev="a" * 64), user_v4.info.armored)
    elsewhere = RecordContext(CHAT, 11)
    opened = lock.open_message(
        genuine.armored, user_v4.secret_armored, PASSPHRASE, elsewhere, "b" * 64
    )
    first, second = opened.items
    assert isinstance(first, VerifiedRecord)
    assert isinstance(second, VerifiedRecord)
    assert first.problems == {RecordProblem.MOVED, RecordProblem.CHAIN_BROKEN}
    assert second.problems == {RecordProblem.MOVED}  # chains to the first inside the document


def test_document_of_non_ascii_records_verifies_on_every_engine(
    any_engine: OpenPGPEngine, user_v4: GeneratedKey, server_key: SigningKey
) -> None:
    """Records are UTF-8 (Japanese chats): each cleartext-signed block must keep its bytes (the
    GnuPG engine once read gpg's output as Latin-1, and every such record became "forged")."""
    lock = ContextLock(any_engine, server_key)
    items = [
        (LogRecord("chat", 0, GENESIS_DIGEST, {"text": "こんにちは ü ✓"}, ts=TS), CTX),
    ]
    items.append(
        (
            LogRecord("chat", 1, record_digest(encode_record(*items[0])), {"t": "日本"}, ts=TS),
            CTX,
        )
    )
    sealed = lock.seal_document(items, user_v4.info.armored)
    opened = lock.open_message(
        sealed.armored, user_v4.secret_armored, PASSPHRASE, CTX, GENESIS_DIGEST
    )
    assert [v.problems for v in opened.records] == [frozenset(), frozenset()]
    assert opened.records[0].record.body == {"text": "こんにちは ü ✓"}


def test_document_size_limits(
    sequoia: OpenPGPEngine, user_v4: GeneratedKey, server_key: SigningKey
) -> None:
    lock = ContextLock(sequoia, server_key)
    with pytest.raises(ValueError):
        lock.seal_document([], user_v4.info.armored)
    with pytest.raises(ValueError):
        lock.seal_document(records(101), user_v4.info.armored)
    with pytest.raises(RuntimeError):
        ContextLock(sequoia, None).seal_document(records(1), user_v4.info.armored)


def test_signed_head(
    any_engine: OpenPGPEngine, server_key: SigningKey, other_server_key: SigningKey
) -> None:
    lock = ContextLock(any_engine, server_key)
    block = lock.sign_head(CHAT, 41, "c" * 64, TS)
    assert block.startswith(cleartext.BEGIN)
    panel = f"Libral log · active\n\n{lock.sign_head(CHAT, 40, 'd' * 64, TS)}\n{block}"
    head = ContextLock(any_engine, None, [server_key.public_armored]).verify_head(panel)
    assert head is not None
    assert (head.chat_id, head.seq, head.digest, head.ts) == (CHAT, 41, "c" * 64, TS)
    assert head.signer_fingerprint == server_key.fingerprint
    assert lock.verify_head("Libral log · paused") is None

    forged = ContextLock(any_engine, other_server_key).sign_head(CHAT, 99, "e" * 64, TS)
    with pytest.raises(HeadForgedError):
        lock.verify_head(panel + "\n" + forged)
    with pytest.raises(HeadForgedError):
        lock.verify_head(block.replace('"seq":41', '"seq":42'))
    # a record block is not a head
    record_block = any_engine.sign_cleartext(encode_record(*records(1)[0]), server_key)
    assert lock.verify_head(record_block) is None
