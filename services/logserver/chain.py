"""Chain sealing at delivery: stored outbox rows → Context-Lock records for the group as it is now.

A record is sealed only when it is about to be sent, chaining to the record delivered before it
(`LogServer.last_digest`) and addressed to the topic the group has now. Everything that goes into
the signed plaintext is stored (kind, seq, timestamp = `created_at`, body) or comes from the
chain head, so sealing the same rows again after a crash yields the same records: same seq, prev
and digest (the ciphertext differs, as every OpenPGP encryption does).

A batch of several records goes as one coalesced document (`ContextLock.seal_document`): one
OpenPGP message, so one `gpg --decrypt` reads all of it, and each record inside still verifies on
its own. A row sealed by an older version (`armored`) cannot go inside a document (its plaintext
is encrypted to the user): it goes alone, as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.crypto import ContextLock, LogRecord, RecordContext
from services.crypto.records import MAX_DOCUMENT_RECORDS, encode_record, record_digest
from services.logserver.format import Outgoing
from services.logserver.types import RecordKind


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One outbox row as the worker loads it."""

    id: int
    seq: int
    kind: RecordKind
    created_at: datetime
    body_enc: str | None
    armored: str | None  # sealed by an older version: sent as it is


@dataclass(frozen=True, slots=True)
class SealedBatch:
    """What one send posts: one OpenPGP message carrying the leading rows of the batch."""

    message: Outgoing
    ids: tuple[int, ...]  # the outbox rows `message` carries (the rest wait for the next send)
    # The chain head after this message: the last sealed record's seq and digest (unchanged for
    # a row sealed by an older version, whose digest is not stored).
    head_seq: int | None
    head_digest: str


def seal_batch(
    lock: ContextLock,
    rows: Sequence[StoredRecord],
    *,
    open_body: Callable[[int, str], Mapping[str, Any]],
    public_key: str,
    chat_id: int,
    thread_id: int | None,
    head_seq: int | None,
    head_digest: str,
) -> SealedBatch:
    """Seal the leading rows of `rows` (one topic, in seq order) after the chain head as one
    message: a single record, or a coalesced document of up to `MAX_DOCUMENT_RECORDS`.
    CPU-bound (run in a thread)."""
    if not rows:
        raise ValueError("nothing to seal")
    first = rows[0]
    if first.armored is not None:
        message = Outgoing((first.seq,), first.kind, first.armored, first.created_at)
        return SealedBatch(message, (first.id,), head_seq, head_digest)
    run: list[StoredRecord] = []
    for row in rows:
        if row.armored is not None or len(run) >= MAX_DOCUMENT_RECORDS:
            break  # an older row goes on its own, in the next send
        if row.kind is not first.kind:
            raise ValueError("a batch holds records of one kind (one topic)")
        run.append(row)
    ctx = RecordContext(chat_id, thread_id)
    items: list[tuple[LogRecord, RecordContext]] = []
    digest = head_digest
    for row in run:
        if row.body_enc is None:
            raise ValueError(f"outbox row {row.seq} holds neither a body nor ciphertext")
        record = LogRecord(
            kind=row.kind.value,
            seq=row.seq,
            prev=digest,
            body=open_body(row.seq, row.body_enc),
            ts=row.created_at,
        )
        items.append((record, ctx))
        digest = record_digest(encode_record(record, ctx))
    seqs = tuple(r.seq for r in run)
    if len(items) == 1:
        sealed = lock.seal_record(items[0][0], public_key, ctx)
        armored, last = sealed.armored, sealed.digest
    else:
        document = lock.seal_document(items, public_key)
        armored, last = document.armored, document.last_digest
    message = Outgoing(seqs, first.kind, armored, first.created_at)
    return SealedBatch(message, tuple(r.id for r in run), seqs[-1], last)
