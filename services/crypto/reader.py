"""The reader: turn a Telegram Desktop export of a log group (or ``.asc`` files) into a verified,
decrypted transcript. Used by ``python -m bot.reader`` (see ``docs/reader.md``).

Telegram Desktop's JSON export (``result.json``) lists ``messages``; a record arrives as armored
text in a message (``text`` / ``text_entities``) or as an ``.asc`` document (``file``). In a forum
group, a message's topic is its ``message_thread_id`` when the export has it, otherwise the topic's
"topic_created" service message reached through ``reply_to_message_id``. The chat id is the
export's ``id`` with the ``-100`` prefix of supergroups.
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

from services.crypto.port import DecryptError
from services.crypto.records import (
    GENESIS_DIGEST,
    ContextLock,
    RecordContext,
    RecordOpenError,
    RecordProblem,
    VerifiedRecord,
)

ARMOR_RE = re.compile(r"-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----", re.DOTALL)
SUPERGROUP_OFFSET = 1_000_000_000_000
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


SEVERE = frozenset(
    {
        FindingKind.FORGED,
        FindingKind.MOVED,
        FindingKind.MISSING,
        FindingKind.REORDERED,
        FindingKind.CHAIN_BROKEN,
        FindingKind.DAMAGED,
    }
)


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

    @property
    def verified_count(self) -> int:
        return sum(1 for e in self.entries if e.verified is not None and e.verified.ok)

    @property
    def clean(self) -> bool:
        return not any(f.kind in SEVERE for f in self.findings)


class ExportError(Exception):
    """The input is not a Telegram Desktop JSON export."""


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
    found: list[FoundRecord] = []
    findings: list[Finding] = []
    for msg in messages:
        if msg.get("type") != "message":
            continue
        mid = int(msg["id"])
        thread, known = _thread_of(msg, by_id, topics)
        ctx = RecordContext(chat_id, thread) if chat_id is not None and known else None
        topic = topics.get(thread) if thread is not None else None
        date = str(msg.get("date", "")) or None
        blocks = ARMOR_RE.findall(_text_of(msg))
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
    return str(export.get("name", file.parent.name)), found, findings


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


def verify(
    title: str,
    found: Sequence[FoundRecord],
    lock: ContextLock,
    secret_key: str,
    passphrase: str | None,
    findings: Sequence[Finding] = (),
) -> ReadResult:
    """Open every record and check signatures, contexts and the chain."""
    result = ReadResult(title=title, findings=list(findings))
    for item in found:
        try:
            verified = lock.open_record(item.armored, secret_key, passphrase, item.found_ctx)
        except RecordOpenError as exc:
            kind = (
                FindingKind.MALFORMED
                if exc.reason == RecordProblem.MALFORMED
                else FindingKind.DAMAGED
            )
            detail = exc.reason.kind.value if isinstance(exc.reason, DecryptError) else str(exc)
            result.findings.append(Finding(kind, item.source, None, detail))
            result.entries.append(Entry(item, None, detail))
            continue
        result.entries.append(Entry(item, verified))
        seq = verified.record.seq
        if RecordProblem.FORGED in verified.problems:
            result.findings.append(Finding(FindingKind.FORGED, item.source, seq))
        if RecordProblem.MOVED in verified.problems:
            signed = verified.ctx
            detail = f"signed for chat {signed.chat_id} topic {signed.thread_id}"
            result.findings.append(Finding(FindingKind.MOVED, item.source, seq, detail))
    result.findings.extend(_chain_findings(result.entries))
    return result


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
