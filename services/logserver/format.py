"""How a record looks in the group: a plaintext header (hashtags, date, kind, sequence number —
nothing else) and the armored ciphertext; a long record or a batch goes as one `.asc` document."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.logserver.types import RecordKind

# Telegram's limits: message text and document caption, in UTF-16 code units.
MAX_TEXT = 4096
MAX_CAPTION = 1024


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One queued record, as the worker sends it."""

    seq: int
    kind: RecordKind
    armored: str
    created_at: datetime


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def header(kind: RecordKind, seqs: Sequence[int], day: datetime) -> str:
    """`#chat #d20261122` / `chat · seq 41` (or `seq 41–140 (100)` for a batch)."""
    tags = f"{kind.hashtag} #d{day:%Y%m%d}"
    if len(seqs) == 1:
        return f"{tags}\n{kind.value} · seq {seqs[0]}"
    return f"{tags}\n{kind.value} · seq {seqs[0]}–{seqs[-1]} ({len(seqs)})"


def as_message(record: Outgoing) -> str | None:
    """HTML text of one record as a message, or None when it does not fit into one."""
    head = header(record.kind, [record.seq], record.created_at)
    armored = record.armored.strip()
    if _utf16_len(head) + 1 + _utf16_len(armored) > MAX_TEXT:
        return None
    return f"{html.escape(head)}\n<pre>{html.escape(armored)}</pre>"


def as_document(records: Sequence[Outgoing]) -> tuple[str, bytes, str]:
    """(file name, content, HTML caption) for one or more records of one topic."""
    kind = records[0].kind
    seqs = [r.seq for r in records]
    if len(seqs) == 1:
        name = f"libral-{kind.value}-{seqs[0]:06d}.asc"
    else:
        name = f"libral-{kind.value}-{seqs[0]:06d}-{seqs[-1]:06d}.asc"
    content = "\n".join(r.armored.strip() + "\n" for r in records).encode()
    caption = html.escape(header(kind, seqs, records[0].created_at))
    return name, content, caption


def split_armored(text: str) -> list[str]:
    """The armored PGP messages in a text or `.asc` document, in order (for readers, tests)."""
    begin, end = "-----BEGIN PGP MESSAGE-----", "-----END PGP MESSAGE-----"
    blocks: list[str] = []
    start = text.find(begin)
    while start != -1:
        stop = text.find(end, start)
        if stop == -1:
            break
        blocks.append(text[start : stop + len(end)] + "\n")
        start = text.find(begin, stop)
    return blocks
