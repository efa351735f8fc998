"""Sealing at delivery (services/logserver/chain.py): a batch becomes one coalesced document that
opens into every record, chained from the head; rows sealed by an older version go alone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.crypto.port import GeneratedKey, OpenPGPEngine, SigningKey
from services.crypto.records import (
    GENESIS_DIGEST,
    MAX_DOCUMENT_RECORDS,
    ContextLock,
    LogRecord,
    RecordContext,
)
from services.logserver.chain import StoredRecord, seal_batch
from services.logserver.format import as_document, split_armored
from services.logserver.types import RecordKind
from tests.crypto_support import PASSPHRASE

CHAT_ID = -1002222333444
THREAD = 10
CTX = RecordContext(CHAT_ID, THREAD)
T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def body(seq: int, enc: str) -> Mapping[str, Any]:
    return {"n": seq, "enc": enc}


def rows(seqs: range, kind: RecordKind = RecordKind.CHAT) -> list[StoredRecord]:
    return [
        StoredRecord(1000 + s, s, kind, T0 + timedelta(seconds=s), f"enc-{s}", None) for s in seqs
    ]


def seal(lock: ContextLock, stored: list[StoredRecord], key: GeneratedKey, **head: Any) -> Any:
    return seal_batch(
        lock,
        stored,
        open_body=body,
        public_key=key.info.armored,
        chat_id=CHAT_ID,
        thread_id=THREAD,
        head_seq=head.get("head_seq"),
        head_digest=head.get("head_digest", GENESIS_DIGEST),
    )


def test_a_batch_is_one_document_that_opens_into_every_record_in_one_chain(
    sequoia: OpenPGPEngine, server_key: SigningKey, user_v4: GeneratedKey
) -> None:
    lock = ContextLock(sequoia, server_key)
    sealed = seal(lock, rows(range(5, 9)), user_v4, head_seq=4, head_digest="a" * 64)
    assert sealed.message.seqs == (5, 6, 7, 8)
    assert sealed.ids == (1005, 1006, 1007, 1008)
    assert sealed.head_seq == 8
    _, content, _ = as_document(sealed.message)
    assert len(split_armored(content.decode())) == 1  # one OpenPGP message
    opened = lock.open_message(content, user_v4.secret_armored, PASSPHRASE, CTX, "a" * 64)
    assert opened.is_document
    assert opened.signer_fingerprint == server_key.fingerprint
    got = opened.records
    assert [r.record.seq for r in got] == [5, 6, 7, 8]
    assert all(r.ok for r in got), [r.problems for r in got]
    assert [r.record.body for r in got] == [body(s, f"enc-{s}") for s in range(5, 9)]
    assert [r.record.ts for r in got] == [T0 + timedelta(seconds=s) for s in range(5, 9)]
    assert got[-1].digest == sealed.head_digest

    # Sealed again (a crash before the acknowledgement): the same records, the same chain.
    again = seal(lock, rows(range(5, 9)), user_v4, head_seq=4, head_digest="a" * 64)
    assert again.head_digest == sealed.head_digest
    assert again.message.armored != sealed.message.armored  # fresh encryption


def test_a_single_row_stays_a_single_record(
    sequoia: OpenPGPEngine, server_key: SigningKey, user_v4: GeneratedKey
) -> None:
    lock = ContextLock(sequoia, server_key)
    sealed = seal(lock, rows(range(1)), user_v4)
    assert not sealed.message.is_document
    one = lock.open_record(sealed.message.armored, user_v4.secret_armored, PASSPHRASE, CTX)
    assert one.record.prev == GENESIS_DIGEST
    assert one.digest == sealed.head_digest


def test_a_row_sealed_by_an_older_version_goes_alone_and_the_rest_wait(
    sequoia: OpenPGPEngine, server_key: SigningKey, user_v4: GeneratedKey
) -> None:
    lock = ContextLock(sequoia, server_key)
    # What an older version stored: a record sealed when it was recorded.
    old = lock.seal_record(
        LogRecord("chat", 3, "c" * 64, {"n": 3}, ts=T0), user_v4.info.armored, CTX
    )
    legacy = StoredRecord(1003, 3, RecordKind.CHAT, T0, None, old.armored)
    batch = [legacy, *rows(range(4, 7))]
    first = seal(lock, batch, user_v4, head_seq=None, head_digest=old.digest)
    assert first.message.seqs == (3,)
    assert first.ids == (1003,)
    assert first.message.armored == old.armored  # as it is
    assert (first.head_seq, first.head_digest) == (None, old.digest)  # the head did not move
    # The rows after it: a document chained to the older record.
    rest = seal(lock, batch[1:], user_v4, head_seq=first.head_seq, head_digest=first.head_digest)
    assert rest.message.seqs == (4, 5, 6)
    opened = lock.open_message(
        rest.message.armored, user_v4.secret_armored, PASSPHRASE, CTX, old.digest
    )
    assert all(r.ok for r in opened.records)
    # An older row inside a batch ends the document before it.
    mixed = seal(lock, [*rows(range(4, 6)), legacy], user_v4, head_digest=old.digest)
    assert mixed.message.seqs == (4, 5)


def test_a_document_holds_at_most_max_document_records(
    sequoia: OpenPGPEngine, server_key: SigningKey, user_v4: GeneratedKey
) -> None:
    lock = ContextLock(sequoia, server_key)
    sealed = seal(lock, rows(range(MAX_DOCUMENT_RECORDS + 3)), user_v4)
    assert len(sealed.message.seqs) == MAX_DOCUMENT_RECORDS
    with pytest.raises(ValueError):
        seal(lock, [*rows(range(2)), *rows(range(2, 3), RecordKind.BILLING)], user_v4)
