"""How a record looks in the group: a plaintext header (hashtags, date, kind, sequence number —
nothing else) and the armored ciphertext. A long record, or a coalesced document of several
records of one topic, goes as one `.asc` file holding one OpenPGP message."""

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
    """One OpenPGP message as the worker posts it: a single record, or a coalesced document
    (``libral-document/1``, services/crypto/records.py) of several records of one topic."""

    seqs: tuple[int, ...]  # the records it carries, in order
    kind: RecordKind
    armored: str
    created_at: datetime  # of its first record

    def __post_init__(self) -> None:
        if not self.seqs:
            raise ValueError("an outgoing message carries at least one record")

    @property
    def is_document(self) -> bool:
        return len(self.seqs) > 1


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def header(kind: RecordKind, seqs: Sequence[int], day: datetime) -> str:
    """`#chat #d20261122` / `chat · seq 41` (or `seq 41–140 (100)` for a document)."""
    tags = f"{kind.hashtag} #d{day:%Y%m%d}"
    if len(seqs) == 1:
        return f"{tags}\n{kind.value} · seq {seqs[0]}"
    return f"{tags}\n{kind.value} · seq {seqs[0]}–{seqs[-1]} ({len(seqs)})"


def as_message(out: Outgoing) -> str | None:
    """HTML text of a single record as a message; None for a document or when it does not fit
    into one message."""
    if out.is_document:
        return None
    head = header(out.kind, out.seqs, out.created_at)
    armored = out.armored.strip()
    if _utf16_len(head) + 1 + _utf16_len(armored) > MAX_TEXT:
        return None
    return f"{html.escape(head)}\n<pre>{html.escape(armored)}</pre>"


def as_document(out: Outgoing) -> tuple[str, bytes, str]:
    """(file name, content, HTML caption): one `.asc` file holding the one OpenPGP message, so
    `gpg --decrypt file.asc` reads all of it with one command."""
    seqs = out.seqs
    if len(seqs) == 1:
        name = f"libral-{out.kind.value}-{seqs[0]:06d}.asc"
    else:
        name = f"libral-{out.kind.value}-{seqs[0]:06d}-{seqs[-1]:06d}.asc"
    content = (out.armored.strip() + "\n").encode()
    caption = html.escape(header(out.kind, seqs, out.created_at))
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
