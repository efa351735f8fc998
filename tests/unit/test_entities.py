"""Entity helpers: offsets in UTF-16 units, read on the original text."""

from __future__ import annotations

from aiogram.types import MessageEntity

from bot.entities import entity_text, remove_entities


def _entity(kind: str, offset: int, length: int) -> MessageEntity:
    return MessageEntity(type=kind, offset=offset, length=length)


def test_entity_text_counts_utf16_units() -> None:
    text = "😀 #tag"
    # the emoji is two UTF-16 units: the hashtag starts at 3, not at 2
    assert entity_text(text, _entity("hashtag", 3, 4)) == "#tag"


def test_removing_one_entity_does_not_move_the_next() -> None:
    text = "@bot a #b 😀😀 @bot c"
    mention, hashtag, last = (
        _entity("mention", 0, 4),
        _entity("hashtag", 7, 2),
        _entity("mention", 15, 4),
    )
    rest, dropped = remove_entities(
        text, [mention, hashtag, last], lambda e, covered: covered == "@bot"
    )
    assert rest == "  a #b 😀😀   c"
    assert dropped == [mention, last]
    assert entity_text(text, hashtag) == "#b"


def test_a_forged_entity_that_cuts_an_emoji_in_half_does_not_raise() -> None:
    text = "a😀b"
    assert entity_text(text, _entity("bold", 2, 2)) == "b"
    assert entity_text(text, _entity("bold", 50, 3)) == ""
    rest, _ = remove_entities(text, [_entity("mention", 2, 1)], lambda e, covered: True)
    assert rest == "a b"
