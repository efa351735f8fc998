"""Context-Lock log records.

A record is a small JSON document ``{v, kind, seq, ts, prev, ctx: {chat_id, thread_id}, body}``
serialised canonically (sorted keys, no spaces, UTF-8), signed by the server key and encrypted to
the user's key. Because the signature covers ``ctx`` (the chat and forum topic the record is
meant for), ``seq`` and ``prev`` (the SHA-256 of the previous record's signed plaintext), a record
that is moved to another chat or topic, dropped, reordered or altered fails verification.

The first record of a user has ``prev == GENESIS_DIGEST``.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from services.crypto.port import (
    DecryptError,
    KeyInfo,
    MessageFormat,
    OpenPGPEngine,
    SigningKey,
    normalize_fingerprint,
)

RECORD_VERSION = 1
GENESIS_DIGEST = "0" * 64


@dataclass(frozen=True, slots=True)
class RecordContext:
    """Where a record belongs: the log group and the forum topic (``None``: General)."""

    chat_id: int
    thread_id: int | None = None


@dataclass(frozen=True, slots=True)
class LogRecord:
    """The content of one record, before sealing."""

    kind: str
    seq: int
    prev: str
    body: Mapping[str, Any]
    ts: datetime = field(default_factory=lambda: datetime.now(UTC))
    v: int = RECORD_VERSION

    def __post_init__(self) -> None:
        if not self.kind:
            raise ValueError("record kind must not be empty")
        if self.seq < 0:
            raise ValueError("record seq must be >= 0")
        if len(self.prev) != 64:
            raise ValueError("record prev must be a SHA-256 hex digest")
        if self.ts.tzinfo is None:
            raise ValueError("record ts must be timezone-aware")


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """A sealed record: the armored OpenPGP message and the digest the next record chains to."""

    armored: str
    digest: str
    seq: int
    message_format: MessageFormat


class RecordProblem(StrEnum):
    """What verification found wrong with a record (the reader's report uses these)."""

    FORGED = "forged"  # no valid signature by a known server key
    MOVED = "moved"  # signed context differs from where the record was found
    CHAIN_BROKEN = "chain-broken"  # prev does not match the record before it
    MALFORMED = "malformed"  # signed, but not a record this version understands


@dataclass(frozen=True, slots=True)
class VerifiedRecord:
    """An opened record and the result of its checks."""

    record: LogRecord
    ctx: RecordContext
    digest: str
    signer_fingerprint: str | None
    problems: frozenset[RecordProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


class RecordOpenError(Exception):
    """The record could not be decrypted or is not a record at all."""

    def __init__(self, reason: DecryptError | RecordProblem, detail: str = "") -> None:
        super().__init__(detail or str(reason))
        self.reason = reason


def _format_ts(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_record(record: LogRecord, ctx: RecordContext) -> bytes:
    """The canonical bytes that are signed (and hashed for ``prev``)."""
    doc = {
        "v": record.v,
        "kind": record.kind,
        "seq": record.seq,
        "ts": _format_ts(record.ts),
        "prev": record.prev,
        "ctx": {"chat_id": ctx.chat_id, "thread_id": ctx.thread_id},
        "body": dict(record.body),
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_digest(plaintext: bytes) -> str:
    """``prev`` of the next record: SHA-256 hex of this record's canonical plaintext."""
    return hashlib.sha256(plaintext).hexdigest()


def decode_record(plaintext: bytes) -> tuple[LogRecord, RecordContext]:
    """Parse canonical record bytes. Raises ``ValueError`` for anything malformed."""
    try:
        doc = json.loads(plaintext.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("record is not JSON") from exc
    if not isinstance(doc, dict):
        raise ValueError("record is not a JSON object")
    try:
        v, kind, seq, ts, prev = doc["v"], doc["kind"], doc["seq"], doc["ts"], doc["prev"]
        ctx, body = doc["ctx"], doc["body"]
        chat_id, thread_id = ctx["chat_id"], ctx["thread_id"]
    except (KeyError, TypeError) as exc:
        raise ValueError("record misses a field") from exc
    if v != RECORD_VERSION:
        raise ValueError(f"unknown record version {v!r}")
    if not (isinstance(kind, str) and isinstance(seq, int) and isinstance(prev, str)):
        raise ValueError("record field of wrong type")
    if not isinstance(ts, str) or not isinstance(body, dict) or not isinstance(chat_id, int):
        raise ValueError("record field of wrong type")
    if thread_id is not None and not isinstance(thread_id, int):
        raise ValueError("record thread_id of wrong type")
    try:
        parsed_ts = datetime.fromisoformat(ts)
    except ValueError as exc:
        raise ValueError("record ts is not ISO 8601") from exc
    record = LogRecord(kind=kind, seq=seq, prev=prev, body=body, ts=parsed_ts, v=v)
    return record, RecordContext(chat_id=chat_id, thread_id=thread_id)


class ContextLock:
    """Seals and opens Context-Lock records with one OpenPGP engine.

    ``signer`` is needed to seal; ``server_certs`` (the current and all previous server public
    keys) to verify. A cache of checked recipient keys keeps sealing fast.
    """

    _CACHE_SIZE = 4096

    def __init__(
        self,
        engine: OpenPGPEngine,
        signer: SigningKey | None = None,
        server_certs: Sequence[str] = (),
    ) -> None:
        self._engine = engine
        self._signer = signer
        certs = list(server_certs)
        if signer is not None and signer.public_armored not in certs:
            certs.insert(0, signer.public_armored)
        self._server_certs = tuple(certs)
        self._recipients: OrderedDict[str, KeyInfo] = OrderedDict()

    @property
    def engine(self) -> OpenPGPEngine:
        return self._engine

    def _recipient(self, recipient: KeyInfo | str) -> KeyInfo:
        if isinstance(recipient, KeyInfo):
            return recipient
        info = self._recipients.get(recipient)
        if info is None:
            info = self._engine.inspect_public_key(recipient)
            self._recipients[recipient] = info
            if len(self._recipients) > self._CACHE_SIZE:
                self._recipients.popitem(last=False)
        else:
            self._recipients.move_to_end(recipient)
        return info

    def seal_record(
        self, record: LogRecord, recipient_cert: KeyInfo | str, ctx: RecordContext
    ) -> SealedRecord:
        """Sign then encrypt ``record`` for ``ctx`` to the user's key.

        ``recipient_cert`` is the user's armored public key or its :class:`KeyInfo`; a string
        is checked (and may raise :class:`~services.crypto.port.KeyImportError`).
        """
        if self._signer is None:
            raise RuntimeError("ContextLock was built without a signing key")
        info = self._recipient(recipient_cert)
        plaintext = encode_record(record, ctx)
        armored = self._engine.sign_and_encrypt(plaintext, info, self._signer)
        return SealedRecord(
            armored=armored,
            digest=record_digest(plaintext),
            seq=record.seq,
            message_format=info.message_format,
        )

    def open_record(
        self,
        armored: str | bytes,
        secret_key: str,
        passphrase: str | None,
        expected_ctx: RecordContext | None = None,
        prev_digest: str | None = None,
    ) -> VerifiedRecord:
        """Decrypt and verify one record.

        ``expected_ctx``: where the record was found (``None``: don't check). ``prev_digest``:
        the digest of the record before it (``GENESIS_DIGEST`` for the first; ``None``: don't
        check). Raises :class:`RecordOpenError` when it cannot be decrypted or parsed; every
        other finding is in :attr:`VerifiedRecord.problems`.
        """
        try:
            dec = self._engine.decrypt_and_verify(
                armored, secret_key, passphrase, self._server_certs
            )
        except DecryptError as exc:
            raise RecordOpenError(exc, str(exc)) from exc
        try:
            record, ctx = decode_record(dec.plaintext)
        except ValueError as exc:
            raise RecordOpenError(RecordProblem.MALFORMED, str(exc)) from exc
        problems: set[RecordProblem] = set()
        if dec.signer_fingerprint is None:
            problems.add(RecordProblem.FORGED)
        if expected_ctx is not None and expected_ctx != ctx:
            problems.add(RecordProblem.MOVED)
        if prev_digest is not None and record.prev != prev_digest:
            problems.add(RecordProblem.CHAIN_BROKEN)
        signer = normalize_fingerprint(dec.signer_fingerprint) if dec.signer_fingerprint else None
        return VerifiedRecord(
            record=record,
            ctx=ctx,
            digest=record_digest(dec.plaintext),
            signer_fingerprint=signer,
            problems=frozenset(problems),
        )
