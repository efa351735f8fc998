"""Message entities, read in Telegram's units.

Telegram counts entity offsets and lengths in UTF-16 code units, Python strings in code points:
an emoji before an entity shifts every later one. Read entities only through these helpers, always
against the text they were sent with (never a text already shortened), so that every offset
stays true.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aiogram.types import MessageEntity
from aiogram.utils.text_decorations import add_surrogates, remove_surrogates


def _units(text: str) -> bytes:
    # UTF-16-LE, two bytes per code unit: entity offsets index this directly.
    return add_surrogates(text)


def _decode(units: bytes) -> str:
    # A forged or stale entity can cut a surrogate pair in half: keep what decodes.
    try:
        return remove_surrogates(units)
    except UnicodeDecodeError:
        return units.decode("utf-16-le", errors="ignore")


def entity_text(text: str, entity: MessageEntity) -> str:
    """The part of ``text`` that ``entity`` covers."""
    units = _units(text)
    start = max(0, entity.offset) * 2
    end = max(start, (entity.offset + entity.length) * 2)
    return _decode(units[start:end])


def remove_entities(
    text: str,
    entities: Iterable[MessageEntity],
    drop: Callable[[MessageEntity, str], bool],
    replacement: str = " ",
) -> tuple[str, list[MessageEntity]]:
    """``text`` without the entities for which ``drop(entity, covered_text)`` is true, each
    replaced by ``replacement``; also returns the dropped entities. All offsets are read on the
    original text, so removing one entity never moves another."""
    units = _units(text)
    dropped = [e for e in entities if drop(e, entity_text(text, e))]
    if not dropped:
        return text, []
    out: list[str] = []
    position = 0
    for entity in sorted(dropped, key=lambda e: e.offset):
        start = max(position, entity.offset * 2)
        end = max(start, (entity.offset + entity.length) * 2)
        out.append(_decode(units[position:start]))
        out.append(replacement)
        position = end
    out.append(_decode(units[position:]))
    return "".join(out), dropped
