"""Chain sealing at delivery: stored outbox rows → Context-Lock records for the group as it is now.

A record is sealed only when it is about to be sent, chaining to the record delivered before it
(`LogServer.last_digest`) and addressed to the topic the group has now. Everything that goes into
the signed plaintext is stored (kind, seq, timestamp = `created_at`, body) or comes from the
chain head, so sealing the same rows again after a crash yields the same records: same seq, prev
and digest (the ciphertext differs, as every OpenPGP encryption does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.crypto import ContextLock, LogRecord, RecordContext
from services.logserver.format import Outgoing
from services.logserver.types import RecordKind


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One outbox row as the worker loads it."""

    seq: int
    kind: RecordKind
    created_at: datetime
    body_enc: str | None
    armored: str | None  # sealed by an older version: sent as it is


@dataclass(frozen=True, slots=True)
class SealedBatch:
    records: list[Outgoing]
    # The chain head after this batch: the last sealed record's seq and digest (unchanged when
    # the batch held only rows sealed by an older version, whose digests are not stored).
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
    """Seal `rows` (one topic, in seq order) after the chain head; CPU-bound (run in a thread)."""
    out: list[Outgoing] = []
    for row in rows:
        if row.armored is not None:
            out.append(Outgoing(row.seq, row.kind, row.armored, row.created_at))
            continue
        if row.body_enc is None:
            raise ValueError(f"outbox row {row.seq} holds neither a body nor ciphertext")
        record = LogRecord(
            kind=row.kind.value,
            seq=row.seq,
            prev=head_digest,
            body=open_body(row.seq, row.body_enc),
            ts=row.created_at,
        )
        sealed = lock.seal_record(record, public_key, RecordContext(chat_id, thread_id))
        out.append(Outgoing(row.seq, row.kind, sealed.armored, row.created_at))
        head_seq, head_digest = sealed.seq, sealed.digest
    return SealedBatch(out, head_seq, head_digest)
