"""Context-Lock log records.

A record is a small JSON document ``{v, kind, seq, ts, prev, ctx: {chat_id, thread_id}, body}``
serialised canonically (sorted keys, no spaces, UTF-8), signed by the server key and encrypted to
the user's key. Because the signature covers ``ctx`` (the chat and forum topic the record is
meant for), ``seq`` and ``prev`` (the SHA-256 of the previous record's signed plaintext), a record
that is moved to another chat or topic, dropped, reordered or altered fails verification.

The first record of a user has ``prev == GENESIS_DIGEST``.

Several records can travel as one *coalesced document* (``libral-document/1``): one signed and
encrypted message whose text holds each record as its own cleartext-signed block, so every record
still verifies on its own. The *signed head* (``{"v":1,"kind":"head",…}``, cleartext-signed) names
the last delivered ``seq`` and its digest, so a reader can tell when records are cut off the end.
The formats are described for users in ``docs/reader.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from services.crypto import cleartext
from services.crypto.port import (
    Decrypted,
    DecryptError,
    KeyInfo,
    MessageFormat,
    OpenPGPEngine,
    SigningKey,
    normalize_fingerprint,
)

RECORD_VERSION = 1
GENESIS_DIGEST = "0" * 64
DOCUMENT_HEADER = "libral-document/1"
MAX_DOCUMENT_RECORDS = 100
RECHECK_AFTER = timedelta(days=1)
HEAD_KIND = "head"


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


@dataclass(frozen=True, slots=True)
class SealedDocument:
    """Several records sealed as one coalesced document (one OpenPGP message)."""

    armored: str
    digests: tuple[str, ...]  # per record, in order
    seqs: tuple[int, ...]
    message_format: MessageFormat

    @property
    def last_digest(self) -> str:
        """What the record after the document chains to."""
        return self.digests[-1]


@dataclass(frozen=True, slots=True)
class Head:
    """A verified signed head: the last delivered record of a log group. ``first`` is the
    first seq delivered to this group (0, unless the log moved here from another group)."""

    chat_id: int
    seq: int
    digest: str
    ts: datetime
    signer_fingerprint: str
    first: int = 0


class HeadForgedError(Exception):
    """A signed head is present but its signature is not by a known server key (or it is
    malformed): the export was altered."""


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


@dataclass(frozen=True, slots=True)
class OpenedDocument:
    """An opened message: one record, or every block of a coalesced document in order (a block
    that is not a readable record is a :class:`RecordOpenError`)."""

    items: tuple[VerifiedRecord | RecordOpenError, ...]
    signer_fingerprint: str | None  # of the outer message
    is_document: bool

    @property
    def records(self) -> tuple[VerifiedRecord, ...]:
        return tuple(i for i in self.items if isinstance(i, VerifiedRecord))


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


def encode_head(chat_id: int, seq: int, digest: str, ts: datetime, first: int = 0) -> bytes:
    """The canonical bytes of a signed head (``first`` only when the log started elsewhere)."""
    doc: dict[str, Any] = {
        "v": RECORD_VERSION,
        "kind": HEAD_KIND,
        "chat_id": chat_id,
        "seq": seq,
        "digest": digest,
        "ts": _format_ts(ts),
    }
    if first:
        doc["first"] = first
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def decode_head(text: bytes) -> tuple[int, int, str, datetime, int]:
    """``(chat_id, seq, digest, ts, first)`` of canonical head bytes; ``ValueError`` if not a
    head."""
    try:
        doc = json.loads(text.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("head is not JSON") from exc
    if not isinstance(doc, dict) or doc.get("kind") != HEAD_KIND:
        raise ValueError("not a head")
    chat_id, seq, digest, ts = doc.get("chat_id"), doc.get("seq"), doc.get("digest"), doc.get("ts")
    if doc.get("v") != RECORD_VERSION or not isinstance(chat_id, int) or not isinstance(seq, int):
        raise ValueError("head field of wrong type")
    if not isinstance(digest, str) or len(digest) != 64 or not isinstance(ts, str):
        raise ValueError("head field of wrong type")
    first = doc.get("first", 0)
    if not isinstance(first, int) or not 0 <= first <= seq + 1:
        raise ValueError("head first of wrong type")
    try:
        when = datetime.fromisoformat(ts)
    except ValueError as exc:
        raise ValueError("head ts is not ISO 8601") from exc
    return chat_id, seq, digest, when, first


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
        self._recipients: OrderedDict[str, tuple[KeyInfo, datetime]] = OrderedDict()

    @property
    def engine(self) -> OpenPGPEngine:
        return self._engine

    def _recipient(self, recipient: KeyInfo | str) -> KeyInfo:
        if isinstance(recipient, KeyInfo):
            return recipient
        now = datetime.now(UTC)
        cached = self._recipients.get(recipient)
        # checked again daily and once it expires: a key may expire while the process runs
        if cached is not None and now - cached[1] < RECHECK_AFTER:
            info = cached[0]
            if info.expires is None or info.expires > now:
                self._recipients.move_to_end(recipient)
                return info
        info = self._engine.inspect_public_key(recipient)
        self._recipients[recipient] = (info, now)
        self._recipients.move_to_end(recipient)
        if len(self._recipients) > self._CACHE_SIZE:
            self._recipients.popitem(last=False)
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

    def seal_document(
        self,
        records: Sequence[tuple[LogRecord, RecordContext]],
        recipient_cert: KeyInfo | str,
    ) -> SealedDocument:
        """Seal up to :data:`MAX_DOCUMENT_RECORDS` records as one coalesced document: each record
        cleartext-signed on its own, the whole text signed and encrypted to the user's key."""
        if self._signer is None:
            raise RuntimeError("ContextLock was built without a signing key")
        if not 0 < len(records) <= MAX_DOCUMENT_RECORDS:
            raise ValueError(f"a document holds 1 to {MAX_DOCUMENT_RECORDS} records")
        info = self._recipient(recipient_cert)
        parts = [DOCUMENT_HEADER + "\n"]
        digests: list[str] = []
        for record, ctx in records:
            plaintext = encode_record(record, ctx)
            block = self._engine.sign_cleartext(plaintext, self._signer)
            parts.append(block if block.endswith("\n") else block + "\n")
            digests.append(record_digest(plaintext))
        text = "\n".join(parts)  # one blank line between the header and each block
        armored = self._engine.sign_and_encrypt(text.encode(), info, self._signer)
        return SealedDocument(
            armored=armored,
            digests=tuple(digests),
            seqs=tuple(r.seq for r, _ in records),
            message_format=info.message_format,
        )

    def sign_head(
        self, chat_id: int, seq: int, digest: str, ts: datetime, *, first: int = 0
    ) -> str:
        """The cleartext-signed head for the log group's pinned panel: ``seq`` and ``digest`` of
        the last record delivered to the group, ``first`` the first seq the group received (give
        it when the log moved to this group from another one)."""
        if self._signer is None:
            raise RuntimeError("ContextLock was built without a signing key")
        head = encode_head(chat_id, seq, digest, ts, first)
        return self._engine.sign_cleartext(head, self._signer)

    def verify_head(self, text: str) -> Head | None:
        """The newest signed head in ``text`` (a panel message), ``None`` when there is none.
        Raises :class:`HeadForgedError` when the newest head does not verify."""
        for block in reversed(cleartext.find_blocks(text)):
            try:
                dec = self._engine.verify_cleartext(block, self._server_certs)
            except DecryptError:
                continue
            try:
                chat_id, seq, digest, ts, first = decode_head(dec.plaintext)
            except ValueError:
                if b'"kind":"head"' in dec.plaintext:
                    raise HeadForgedError("malformed head") from None
                continue
            if dec.signer_fingerprint is None:
                raise HeadForgedError("the head is not signed by a known server key")
            signer = normalize_fingerprint(dec.signer_fingerprint)
            return Head(chat_id, seq, digest, ts, signer, first)
        return None

    def _decrypt(self, armored: str | bytes, secret_key: str, passphrase: str | None) -> Decrypted:
        try:
            return self._engine.decrypt_and_verify(
                armored, secret_key, passphrase, self._server_certs
            )
        except DecryptError as exc:
            raise RecordOpenError(exc, str(exc)) from exc

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
        check). Raises :class:`RecordOpenError` when it cannot be decrypted or parsed (a
        coalesced document is :attr:`RecordProblem.MALFORMED` here: use :meth:`open_message`);
        every other finding is in :attr:`VerifiedRecord.problems`.
        """
        dec = self._decrypt(armored, secret_key, passphrase)
        if dec.plaintext.startswith(DOCUMENT_HEADER.encode()):
            raise RecordOpenError(RecordProblem.MALFORMED, "a coalesced document")
        return self._checked(dec.plaintext, dec.signer_fingerprint, expected_ctx, prev_digest)

    def open_document(
        self,
        armored: str | bytes,
        secret_key: str,
        passphrase: str | None,
        expected_ctx: RecordContext | None = None,
        prev_digest: str | None = None,
    ) -> OpenedDocument:
        """Decrypt a coalesced document and verify each record in it like a single record
        (its own signature, ``ctx``, and the chain from ``prev_digest`` through the document).
        Raises :class:`RecordOpenError` when it cannot be decrypted or is not a document."""
        opened = self.open_message(armored, secret_key, passphrase, expected_ctx, prev_digest)
        if not opened.is_document:
            raise RecordOpenError(RecordProblem.MALFORMED, "not a coalesced document")
        return opened

    def open_message(
        self,
        armored: str | bytes,
        secret_key: str,
        passphrase: str | None,
        expected_ctx: RecordContext | None = None,
        prev_digest: str | None = None,
    ) -> OpenedDocument:
        """Open a single record or a coalesced document, whichever ``armored`` is."""
        dec = self._decrypt(armored, secret_key, passphrase)
        outer = normalize_fingerprint(dec.signer_fingerprint) if dec.signer_fingerprint else None
        header = DOCUMENT_HEADER.encode() + b"\n"
        if not dec.plaintext.startswith(header):
            try:
                one = self._checked(dec.plaintext, outer, expected_ctx, prev_digest)
            except RecordOpenError as exc:
                return OpenedDocument((exc,), outer, is_document=False)
            return OpenedDocument((one,), outer, is_document=False)
        text = dec.plaintext[len(header) :].decode("utf-8", "replace")
        items: list[VerifiedRecord | RecordOpenError] = []
        prev = prev_digest
        for block in cleartext.find_blocks(text):
            try:
                inner = self._engine.verify_cleartext(block, self._server_certs)
                item = self._checked(inner.plaintext, inner.signer_fingerprint, expected_ctx, prev)
            except DecryptError as exc:
                items.append(RecordOpenError(exc, str(exc)))
                continue
            except RecordOpenError as exc:
                items.append(exc)
                continue
            items.append(item)
            if prev is not None:
                prev = item.digest
        if not items:
            items.append(RecordOpenError(RecordProblem.MALFORMED, "an empty document"))
        return OpenedDocument(tuple(items), outer, is_document=True)

    def _checked(
        self,
        plaintext: bytes,
        signer_fingerprint: str | None,
        expected_ctx: RecordContext | None,
        prev_digest: str | None,
    ) -> VerifiedRecord:
        try:
            record, ctx = decode_record(plaintext)
        except ValueError as exc:
            raise RecordOpenError(RecordProblem.MALFORMED, str(exc)) from exc
        problems: set[RecordProblem] = set()
        if signer_fingerprint is None:
            problems.add(RecordProblem.FORGED)
        if expected_ctx is not None and expected_ctx != ctx:
            problems.add(RecordProblem.MOVED)
        if prev_digest is not None and record.prev != prev_digest:
            problems.add(RecordProblem.CHAIN_BROKEN)
        signer = normalize_fingerprint(signer_fingerprint) if signer_fingerprint else None
        return VerifiedRecord(
            record=record,
            ctx=ctx,
            digest=record_digest(plaintext),
            signer_fingerprint=signer,
            problems=frozenset(problems),
        )
