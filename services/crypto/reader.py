"""The reader: turn a Telegram Desktop export of a log group (or ``.asc`` files) into a verified,
decrypted transcript. Used by ``python -m bot.reader`` (see ``docs/reader.md``).

Telegram Desktop's JSON export (``result.json``) lists ``messages``; a record arrives as armored
text in a message (``text`` / ``text_entities``) or as an ``.asc`` document (``file``). In a forum
group, a message's topic is its ``message_thread_id`` when the export has it, otherwise the topic's
"topic_created" service message reached through ``reply_to_message_id``. The chat id is the
export's ``id`` with the ``-100`` prefix of supergroups.

A message may hold a coalesced document (many records, each checked on its own), and the pinned
panel carries the signed head: the reader checks that every record from the head's ``first`` to
its ``seq`` is present, so records cut off the start or the end, or a missing file, are failures.
Several secret keys may be given (after a key rotation, older records are sealed to the old key).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pysequoia as ps
from pysequoia.packet import Tag

from services.crypto import cleartext
from services.crypto.keycheck import key_ids, packets, pkesk_recipients, tag_of
from services.crypto.port import DecryptError, DecryptErrorKind, KeyImportError
from services.crypto.records import (
    GENESIS_DIGEST,
    ContextLock,
    Head,
    HeadForgedError,
    RecordContext,
    RecordOpenError,
    RecordProblem,
    VerifiedRecord,
)

ARMOR_RE = re.compile(r"-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----", re.DOTALL)
SUPERGROUP_OFFSET = 1_000_000_000_000
_SECRET_TAGS = (Tag.SecretKey, Tag.SecretSubkey)
Translate = Callable[..., str]


class FindingKind(StrEnum):
    FORGED = "forged"
    MOVED = "moved"
    MISSING = "missing"
    REORDERED = "reordered"
    CHAIN_BROKEN = "chain-broken"
    DUPLICATE = "duplicate"
    DAMAGED = "damaged"
    MALFORMED = "malformed"
    FILE_MISSING = "file-missing"
    CUT_START = "cut-start"  # records missing before the first one found
    CUT_END = "cut-end"  # records missing after the last one found, up to the signed head
    NO_HEAD = "no-head"  # no signed head: records cut off the end would go unnoticed
    HEAD_FORGED = "head-forged"
    HEAD_MOVED = "head-moved"  # a head signed for another group
    HEAD_MISMATCH = "head-mismatch"  # the record at head.seq is not the one the head names


# Everything but a duplicate leaves something unverified: the exit status is then 1.
SEVERE = frozenset(set(FindingKind) - {FindingKind.DUPLICATE})


@dataclass(frozen=True, slots=True)
class SecretKey:
    """One of the user's secret keys, armored, with the ids of its (sub)keys."""

    name: str
    armored: str = field(repr=False)
    passphrase: str | None = field(repr=False)
    ids: frozenset[str] = frozenset()

    @classmethod
    def load(cls, name: str, data: bytes, passphrase: str | None) -> SecretKey:
        """A key from a file's bytes (armored or binary). Raises :class:`KeyFileError`."""
        try:
            tsk = ps.Tsk.from_bytes(data)
            binary = bytes(tsk)
        except (RuntimeError, ValueError) as exc:
            raise KeyFileError(name, KeyFileProblem.NOT_OPENPGP) from exc
        try:
            secret = any(tag_of(p) in _SECRET_TAGS for p in packets(binary))
        except KeyImportError as exc:
            raise KeyFileError(name, KeyFileProblem.NOT_OPENPGP) from exc
        if not secret:
            raise KeyFileError(name, KeyFileProblem.PUBLIC_KEY)
        return cls(name, str(tsk), passphrase, frozenset(key_ids(bytes(tsk))))


class KeyFileProblem(StrEnum):
    UNREADABLE = "unreadable"
    NOT_OPENPGP = "not-openpgp"
    PUBLIC_KEY = "public-key"  # a public key where the secret key is needed
    BAD_PASSPHRASE = "bad-passphrase"


class KeyFileError(Exception):
    """A secret key file cannot be used; ``problem`` says why."""

    def __init__(self, name: str, problem: KeyFileProblem, detail: str = "") -> None:
        super().__init__(f"{name}: {problem.value}" + (f" ({detail})" if detail else ""))
        self.name = name
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True, slots=True)
class FoundRecord:
    """An armored record and where it was found."""

    source: str  # "message 42" or a file name
    armored: str
    message_id: int | None = None
    found_ctx: RecordContext | None = None  # None: unknown (e.g. a loose .asc file)
    topic: str | None = None
    date: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    source: str
    seq: int | None = None
    detail: str = ""


@dataclass(slots=True)
class Entry:
    found: FoundRecord
    verified: VerifiedRecord | None
    error: str | None = None


@dataclass(slots=True)
class ReadResult:
    title: str
    entries: list[Entry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    head: Head | None = None

    @property
    def verified_count(self) -> int:
        return sum(1 for e in self.entries if e.verified is not None and e.verified.ok)

    @property
    def clean(self) -> bool:
        return not any(f.kind in SEVERE for f in self.findings)


class ExportError(Exception):
    """The input is not a Telegram Desktop JSON export."""


@dataclass(slots=True)
class ExportContents:
    """What a Telegram Desktop export holds for the reader."""

    title: str
    chat_id: int | None
    found: list[FoundRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    heads: list[tuple[str, str]] = field(default_factory=list)  # (source, message text)


# ---------------------------------------------------------------- inputs


def _text_of(message: dict[str, Any]) -> str:
    entities = message.get("text_entities")
    if isinstance(entities, list) and entities:
        return "".join(str(e.get("text", "")) for e in entities if isinstance(e, dict))
    text = message.get("text", "")
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in text)
    return ""


def export_chat_id(export: dict[str, Any]) -> int | None:
    raw = export.get("id")
    if not isinstance(raw, int):
        return None
    if raw < 0:
        return raw
    kind = str(export.get("type", ""))
    if "supergroup" in kind or "channel" in kind:
        return -(SUPERGROUP_OFFSET + raw)
    return -raw  # basic group


def records_from_export(path: Path) -> tuple[str, list[FoundRecord], list[Finding]]:
    """Records in a Telegram Desktop export (``result.json`` or its folder)."""
    contents = read_export(path)
    return contents.title, contents.found, contents.findings


def read_export(path: Path) -> ExportContents:
    """Records, findings and signed-head candidates of a Telegram Desktop export."""
    file = path / "result.json" if path.is_dir() else path
    try:
        export = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{file}: not a readable JSON export") from exc
    if not isinstance(export, dict) or not isinstance(export.get("messages"), list):
        raise ExportError(f"{file}: no 'messages' list (export as JSON from Telegram Desktop)")
    base = file.parent
    chat_id = export_chat_id(export)
    messages = [m for m in export["messages"] if isinstance(m, dict) and "id" in m]
    by_id = {m["id"]: m for m in messages}
    topics = {
        m["id"]: str(m.get("title", ""))
        for m in messages
        if m.get("type") == "service" and m.get("action") == "topic_created"
    }
    title = str(export.get("name", file.parent.name))
    out = ExportContents(title=title, chat_id=chat_id)
    found, findings = out.found, out.findings
    for msg in messages:
        if msg.get("type") != "message":
            continue
        mid = int(msg["id"])
        thread, known = _thread_of(msg, by_id, topics)
        ctx = RecordContext(chat_id, thread) if chat_id is not None and known else None
        topic = topics.get(thread) if thread is not None else None
        date = str(msg.get("date", "")) or None
        text = _text_of(msg)
        if cleartext.BEGIN in text:
            out.heads.append((f"message {mid}", text))
        blocks = ARMOR_RE.findall(text)
        file_ref = msg.get("file")
        if isinstance(file_ref, str) and file_ref:
            file_path = base / file_ref
            if file_ref.startswith("(") or not file_path.is_file():
                if str(msg.get("file_name", "")).endswith((".asc", ".pgp", ".gpg")):
                    findings.append(Finding(FindingKind.FILE_MISSING, f"message {mid}"))
            else:
                blocks += ARMOR_RE.findall(file_path.read_text(encoding="utf-8", errors="replace"))
        for n, block in enumerate(blocks):
            source = f"message {mid}" if len(blocks) == 1 else f"message {mid}.{n + 1}"
            found.append(FoundRecord(source, block, mid, ctx, topic, date))
    return out


def _thread_of(
    msg: dict[str, Any], by_id: dict[Any, dict[str, Any]], topics: dict[Any, str]
) -> tuple[int | None, bool]:
    """(thread id, known?) — ``None`` thread is the General topic."""
    explicit = msg.get("message_thread_id")
    if isinstance(explicit, int):
        return explicit, True
    seen: set[Any] = set()
    target = msg.get("reply_to_message_id")
    while target is not None and target not in seen:
        seen.add(target)
        if target in topics:
            return int(target), True
        parent = by_id.get(target)
        if parent is None:
            return None, False  # replied-to message not in the export: topic unknown
        explicit = parent.get("message_thread_id")
        if isinstance(explicit, int):
            return explicit, True
        target = parent.get("reply_to_message_id")
    return None, True


def records_from_asc(paths: Iterable[Path], ctx: RecordContext | None) -> list[FoundRecord]:
    found: list[FoundRecord] = []
    for path in paths:
        blocks = ARMOR_RE.findall(path.read_text(encoding="utf-8", errors="replace"))
        for n, block in enumerate(blocks):
            source = path.name if len(blocks) == 1 else f"{path.name} #{n + 1}"
            found.append(FoundRecord(source, block, None, ctx))
    return found


# ---------------------------------------------------------------- verification


def _keys_for(armored: str, keys: Sequence[SecretKey]) -> list[SecretKey]:
    """The keys to try, the one the message names first."""
    named = set(pkesk_recipients(armored.encode()))
    return sorted(keys, key=lambda k: k.ids.isdisjoint(named))


def _open(
    item: FoundRecord, lock: ContextLock, keys: Sequence[SecretKey]
) -> list[VerifiedRecord | RecordOpenError] | RecordOpenError:
    """Open with whichever key the message is encrypted to (a rotated key: several)."""
    error: RecordOpenError | None = None
    for key in _keys_for(item.armored, keys):
        try:
            opened = lock.open_message(item.armored, key.armored, key.passphrase, item.found_ctx)
        except RecordOpenError as exc:
            error = exc
            reason = exc.reason
            if isinstance(reason, DecryptError) and reason.kind == DecryptErrorKind.NO_SECRET_KEY:
                continue
            return exc
        if opened.is_document and opened.signer_fingerprint is None:
            return RecordOpenError(RecordProblem.FORGED, "document not signed by Libral")
        return list(opened.items)
    assert error is not None
    return error


def verify(
    title: str,
    found: Sequence[FoundRecord],
    lock: ContextLock,
    keys: Sequence[SecretKey],
    findings: Sequence[Finding] = (),
    heads: Sequence[tuple[str, str]] = (),
    chat_id: int | None = None,
) -> ReadResult:
    """Open every record (and every record of every document) with the user's keys; check
    signatures, contexts, the chain, and completeness against the newest signed head."""
    if not keys:
        raise ValueError("at least one secret key is needed")
    result = ReadResult(title=title, findings=list(findings))
    for item in found:
        opened = _open(item, lock, keys)
        if isinstance(opened, RecordOpenError):
            _unreadable(result, item, opened)
            continue
        for n, one in enumerate(opened, start=1):
            part = item if len(opened) == 1 else replace_source(item, f"{item.source} #{n}")
            if isinstance(one, RecordOpenError):
                _unreadable(result, part, one)
                continue
            result.entries.append(Entry(part, one))
            seq = one.record.seq
            if RecordProblem.FORGED in one.problems:
                result.findings.append(Finding(FindingKind.FORGED, part.source, seq))
            if RecordProblem.MOVED in one.problems:
                signed = one.ctx
                detail = f"signed for chat {signed.chat_id} topic {signed.thread_id}"
                result.findings.append(Finding(FindingKind.MOVED, part.source, seq, detail))
    result.findings.extend(_chain_findings(result.entries))
    if chat_id is None:  # loose files: the group the records are signed for
        chats = {e.verified.ctx.chat_id for e in result.entries if e.verified is not None}
        chat_id = next(iter(chats)) if len(chats) == 1 else None
    result.head = _head(result, lock, heads, chat_id)
    result.findings.extend(_completeness(result.entries, result.head))
    return result


def replace_source(item: FoundRecord, source: str) -> FoundRecord:
    return FoundRecord(source, item.armored, item.message_id, item.found_ctx, item.topic, item.date)


def _unreadable(result: ReadResult, item: FoundRecord, exc: RecordOpenError) -> None:
    if exc.reason == RecordProblem.MALFORMED:
        kind = FindingKind.MALFORMED
    elif exc.reason == RecordProblem.FORGED:
        kind = FindingKind.FORGED
    else:
        kind = FindingKind.DAMAGED
    detail = exc.reason.kind.value if isinstance(exc.reason, DecryptError) else str(exc)
    result.findings.append(Finding(kind, item.source, None, detail))
    result.entries.append(Entry(item, None, detail))


def _head(
    result: ReadResult, lock: ContextLock, heads: Sequence[tuple[str, str]], chat_id: int | None
) -> Head | None:
    """The newest valid head for this group; forged or foreign heads are findings."""
    best: Head | None = None
    for source, text in heads:
        try:
            head = lock.verify_head(text)
        except HeadForgedError as exc:
            result.findings.append(Finding(FindingKind.HEAD_FORGED, source, None, str(exc)))
            continue
        if head is None:
            continue
        if chat_id is not None and head.chat_id != chat_id:
            detail = f"signed for chat {head.chat_id}"
            result.findings.append(Finding(FindingKind.HEAD_MOVED, source, head.seq, detail))
            continue
        if best is None or head.seq > best.seq:
            best = head
    if best is None:
        result.findings.append(Finding(FindingKind.NO_HEAD, "export"))
    return best


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _completeness(entries: Sequence[Entry], head: Head | None) -> list[Finding]:
    """Records missing before the first found one or after the last, up to the head."""
    present = {
        e.verified.record.seq: e
        for e in entries
        if e.verified is not None and RecordProblem.FORGED not in e.verified.problems
    }
    first = head.first if head is not None else 0
    out: list[Finding] = []
    if head is None:
        lowest = min(present, default=None)
        if lowest is not None and lowest > first:
            genesis = present[lowest].verified
            if genesis is not None and genesis.record.prev != GENESIS_DIGEST:
                found_at = present[lowest].found.source
                span = _span(first, lowest - 1)
                out.append(Finding(FindingKind.CUT_START, found_at, lowest, span))
        return out
    covered = [s for s in present if first <= s <= head.seq]
    if not covered:
        out.append(Finding(FindingKind.CUT_END, "export", head.seq, _span(first, head.seq)))
        return out
    low, high = min(covered), max(covered)
    if low > first:
        out.append(
            Finding(FindingKind.CUT_START, present[low].found.source, low, _span(first, low - 1))
        )
    if high < head.seq:
        span = _span(high + 1, head.seq)
        out.append(Finding(FindingKind.CUT_END, present[high].found.source, head.seq, span))
    last = present.get(head.seq)
    if last is not None and last.verified is not None and last.verified.digest != head.digest:
        out.append(Finding(FindingKind.HEAD_MISMATCH, last.found.source, head.seq))
    return out


def _chain_findings(entries: Sequence[Entry]) -> list[Finding]:
    out: list[Finding] = []
    authentic = [
        (e.found, e.verified)
        for e in entries
        if e.verified is not None and RecordProblem.FORGED not in e.verified.problems
    ]
    highest: int | None = None
    for found, verified in authentic:
        seq = verified.record.seq
        if highest is not None and seq < highest:
            out.append(Finding(FindingKind.REORDERED, found.source, seq, f"after {highest}"))
        highest = seq if highest is None else max(highest, seq)
    by_seq: dict[int, tuple[FoundRecord, VerifiedRecord]] = {}
    for found, verified in authentic:
        seq = verified.record.seq
        if seq in by_seq:
            out.append(Finding(FindingKind.DUPLICATE, found.source, seq))
            continue
        by_seq[seq] = (found, verified)
    for (seq_a, (_fa, a)), (seq_b, (fb, b)) in itertools.pairwise(sorted(by_seq.items())):
        if seq_b != seq_a + 1:
            gap = f"{seq_a + 1}" if seq_b == seq_a + 2 else f"{seq_a + 1}-{seq_b - 1}"
            out.append(Finding(FindingKind.MISSING, fb.source, seq_b, gap))
        elif b.record.prev != a.digest:
            out.append(Finding(FindingKind.CHAIN_BROKEN, fb.source, seq_b))
    return out


def chain_starts_at_genesis(result: ReadResult) -> bool:
    firsts = [
        e.verified
        for e in result.entries
        if e.verified is not None and RecordProblem.FORGED not in e.verified.problems
    ]
    if not firsts:
        return False
    first = min(firsts, key=lambda v: v.record.seq)
    return first.record.prev == GENESIS_DIGEST


# ---------------------------------------------------------------- transcript


def render_markdown(result: ReadResult, t: Translate) -> str:
    """A Markdown transcript with the verification report first. ``t(key, **args)`` localises."""
    lines = [f"# {t('crypto-reader-title', title=result.title)}", ""]
    lines += [f"## {t('crypto-reader-report')}", ""]
    total = len(result.entries)
    lines.append(t("crypto-reader-summary", verified=result.verified_count, total=total))
    if total and chain_starts_at_genesis(result):
        lines.append("")
        lines.append(t("crypto-reader-chain-start"))
    if result.head is not None:
        lines.append("")
        lines.append(t("reader-head", seq=str(result.head.seq), ts=_format_head_ts(result.head)))
    lines.append("")
    if result.clean:
        lines.append("✅ " + t("crypto-reader-clean"))
    for f in result.findings:
        icon = "❌" if f.kind in SEVERE else "⚠️"
        seq = str(f.seq) if f.seq is not None else "-"
        text = t(f"crypto-reader-finding-{f.kind.value}", source=f.source, seq=seq, detail=f.detail)
        lines.append(f"- {icon} {text}")
    lines += ["", f"## {t('crypto-reader-transcript')}", ""]
    for e in result.entries:
        lines += _render_entry(e, t)
    return "\n".join(lines).rstrip() + "\n"


def _format_head_ts(head: Head) -> str:
    return head.ts.strftime("%Y-%m-%d %H:%M:%S UTC")


def _render_entry(e: Entry, t: Translate) -> list[str]:
    where = e.found.topic or (t("crypto-reader-general") if e.found.found_ctx else "")
    head = f"### {e.found.source}" + (f" · {where}" if where else "")
    if e.verified is None:
        return [head, "", "❌ " + t("crypto-reader-unreadable", detail=e.error or ""), ""]
    rec = e.verified.record
    status = (
        "✅" if e.verified.ok else "❌ " + ", ".join(sorted(p.value for p in e.verified.problems))
    )
    out = [
        head,
        "",
        f"`#{rec.seq}` · {rec.ts.strftime('%Y-%m-%d %H:%M:%S UTC')} · `{rec.kind}` · {status}",
        "",
    ]
    for key, value in rec.body.items():
        if isinstance(value, str) and "\n" in value:
            out.append(f"**{key}**:")
            out += ["> " + line for line in value.splitlines()]
        elif isinstance(value, str):
            out.append(f"**{key}**: {value}")
        else:
            out.append(f"**{key}**: `{json.dumps(value, ensure_ascii=False)}`")
        out.append("")
    return out
