"""Telegram's text formatting: HTML, MarkdownV2 and legacy Markdown into text + entities.

The parsers follow Telegram's (tdlib's) rules and error messages closely enough that a bot which
passes here passes on Telegram.  Entity offsets and lengths are in UTF-16 code units.  Every
error is a :class:`ParseError` whose message is what Telegram puts after
``"Bad Request: can't parse entities: "``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

Entity = dict[str, Any]


class ParseError(ValueError):
    """The text could not be parsed; ``str(error)`` is Telegram's reason."""


class UnsupportedParseMode(ValueError):
    """``parse_mode`` is not HTML, MarkdownV2 or Markdown."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


# -- HTML ------------------------------------------------------------------------------------

_HTML_TAGS = {
    "a",
    "b",
    "strong",
    "i",
    "em",
    "s",
    "strike",
    "del",
    "u",
    "ins",
    "tg-spoiler",
    "tg-emoji",
    "tg-time",
    "span",
    "pre",
    "code",
    "blockquote",
}
_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
    "blockquote": "blockquote",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[a-zA-Z]+);")


@dataclass
class _Open:
    tag: str
    start: int  # UTF-16 offset in the output text
    attrs: dict[str, str] = field(default_factory=dict)


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    """Decode an HTML entity at ``text[i] == '&'``; returns (character, length) or None."""
    match = _ENTITY_RE.match(text, i)
    if not match:
        return None
    body = match.group(1)
    if body.startswith("#"):
        try:
            code = int(body[2:], 16) if body[1] in "xX" else int(body[1:])
            char = chr(code)
        except (ValueError, OverflowError):
            return None
        if code == 0 or 0xD800 <= code <= 0xDFFF:
            return None
        return char, match.end() - i
    if body in _NAMED:
        return _NAMED[body], match.end() - i
    return None  # Telegram leaves unknown named entities as they are


def parse_html(source: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    out_len = 0  # UTF-16 length of what is in ``out``
    entities: list[Entity] = []
    stack: list[_Open] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            decoded = _decode_entity(source, i)
            if decoded is not None:
                out.append(decoded[0])
                out_len += utf16_len(decoded[0])
                i += decoded[1]
                continue
            out.append("&")
            out_len += 1
            i += 1
            continue
        if ch != "<":
            out.append(ch)
            out_len += utf16_len(ch)
            i += 1
            continue
        begin = i
        at = _byte_offset(source, begin)
        if i + 1 < n and source[i + 1] == "/":
            end = source.find(">", i)
            if end == -1:
                raise ParseError(f"Unclosed end tag at byte offset {at}")
            name = source[i + 2 : end].strip().lower()
            if not stack:
                raise ParseError(f"Unexpected end tag at byte offset {at}")
            if name != stack[-1].tag:
                raise ParseError(
                    f'Unmatched end tag at byte offset {at}, expected "</{stack[-1].tag}>", '
                    f'found "</{name}>"'
                )
            opened = stack.pop()
            if opened.tag == "code" and stack and stack[-1].tag == "pre":
                # <pre><code class="language-x">…</code></pre> is one pre entity with a language.
                css = opened.attrs.get("class", "")
                if css.startswith("language-"):
                    stack[-1].attrs["_language"] = css[len("language-") :]
            else:
                _close_html(opened, out_len, entities)
            i = end + 1
            continue
        # An opening tag.
        i += 1
        name_start = i
        while i < n and not source[i].isspace() and source[i] != ">":
            i += 1
        if i >= n:
            raise ParseError(f"Unclosed start tag at byte offset {at}")
        name = source[name_start:i].lower()
        if name not in _HTML_TAGS:
            raise ParseError(f'Unsupported start tag "{name}" at byte offset {at}')
        attrs: dict[str, str] = {}
        while True:
            while i < n and source[i].isspace():
                i += 1
            if i >= n:
                raise ParseError(f"Unclosed start tag at byte offset {at}")
            if source[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and not source[i].isspace() and source[i] not in "=>":
                i += 1
            attr = source[attr_start:i].lower()
            if not attr:
                raise ParseError(f'Empty attribute name in the tag "{name}" at byte offset {at}')
            while i < n and source[i].isspace():
                i += 1
            if i < n and source[i] != "=":
                if name == "blockquote" and attr == "expandable":
                    attrs[attr] = ""
                    continue
                raise ParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                    f"at byte offset {at}"
                )
            i += 1
            while i < n and source[i].isspace():
                i += 1
            if i >= n:
                raise ParseError(f"Unclosed start tag at byte offset {at}")
            value, i = _attr_value(source, i, at)
            attrs[attr] = value
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise ParseError(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {at}')
        if name == "tg-time" and not attrs.get("unix", "").isdigit():
            raise ParseError(f'Tag "tg-time" must have attribute "unix" at byte offset {at}')
        stack.append(_Open(name, out_len, attrs))
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _attr_value(source: str, i: int, at: int) -> tuple[str, int]:
    n = len(source)
    if source[i] in "'\"":
        quote = source[i]
        end = source.find(quote, i + 1)
        if end == -1:
            raise ParseError(f"Unclosed start tag at byte offset {at}")
        return _unescape(source[i + 1 : end]), end + 1
    start = i
    while i < n and not source[i].isspace() and source[i] != ">":
        i += 1
    return _unescape(source[start:i]), i


def _unescape(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            decoded = _decode_entity(value, i)
            if decoded is not None:
                out.append(decoded[0])
                i += decoded[1]
                continue
        out.append(value[i])
        i += 1
    return "".join(out)


def _close_html(opened: _Open, end: int, entities: list[Entity]) -> None:
    length = end - opened.start
    tag = opened.tag
    if length <= 0:
        return
    entity: Entity = {"type": _TAG_TYPES[tag], "offset": opened.start, "length": length}
    if tag == "a":
        url = opened.attrs.get("href", "")
        if not url:
            return  # Telegram drops links without a URL
        entity["url"] = url
    elif tag == "tg-emoji":
        entity["custom_emoji_id"] = opened.attrs["emoji-id"]
    elif tag == "tg-time":
        entity["unix_time"] = int(opened.attrs["unix"])
        if opened.attrs.get("format"):
            entity["date_time_format"] = opened.attrs["format"]
    elif tag == "blockquote" and "expandable" in opened.attrs:
        entity["type"] = "expandable_blockquote"
    elif tag == "pre":
        language = opened.attrs.pop("_language", "")
        if language:
            entity["language"] = language
    entities.append(entity)


# -- MarkdownV2 ------------------------------------------------------------------------------

_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
}
_MDV2_TYPES = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}


def parse_markdown_v2(source: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    out_len = 0
    entities: list[Entity] = []
    stack: list[tuple[str, int, int]] = []  # (marker, utf16 start, source index)
    links: list[tuple[bool, int, int]] = []  # (is custom emoji, utf16 start, source index)
    quote: tuple[str, int] | None = None  # (entity type, utf16 start)
    i = 0
    n = len(source)
    line_start = True

    def emit(text: str) -> None:
        nonlocal out_len
        out.append(text)
        out_len += utf16_len(text)

    def at(index: int) -> int:
        return _byte_offset(source, index)

    while i < n:
        if line_start:
            line_start = False
            if quote is not None:
                if source.startswith(">", i):
                    i += 1
                    continue
                _add(entities, quote[0], quote[1], out_len - 1)  # the quote ends before "\n"
                quote = None
            if source.startswith("**>", i):
                quote = ("expandable_blockquote", out_len)
                i += 3
                continue
            if source.startswith(">", i):
                quote = ("blockquote", out_len)
                i += 1
                continue
        ch = source[i]
        if ch == "\\":
            if i + 1 < n and 0 < ord(source[i + 1]) <= 126:
                emit(source[i + 1])
                i += 2
                continue
            raise ParseError(
                "Character '\\' is reserved and must be escaped with the preceding '\\'"
            )
        if ch == "\n":
            emit(ch)
            i += 1
            line_start = True
            continue
        if ch == "`":
            fence = 3 if source.startswith("```", i) else 1
            end = source.find("`" * fence, i + fence)
            while end != -1 and source[end - 1] == "\\" and fence == 1:
                end = source.find("`", end + 1)
            if end == -1:
                kind = "Pre" if fence == 3 else "Code"
                raise ParseError(f"Can't find end of {kind} entity at byte offset {at(i)}")
            body = source[i + fence : end]
            language = ""
            if fence == 3 and "\n" in body:
                first, rest = body.split("\n", 1)
                if first and " " not in first:
                    language = first
                body = rest
            start = out_len
            emit(_md_code_unescape(body))
            entity = _add(entities, "pre" if fence == 3 else "code", start, out_len)
            if entity is not None and language:
                entity["language"] = language
            i = end + fence
            continue
        if (
            ch == "|"
            and source.startswith("||", i)
            and quote is not None
            and quote[0] == "expandable_blockquote"
            and (i + 2 == n or source[i + 2] == "\n")
            and not (stack and stack[-1][0] == "||")
        ):
            i += 2  # the expandability mark at the end of an expandable block quotation
            continue
        marker = next((m for m in ("__", "||", "*", "_", "~") if source.startswith(m, i)), None)
        if marker is not None:
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                _add(entities, _MDV2_TYPES[marker], start, out_len)
            elif any(m == marker for m, _, _ in stack):
                raise ParseError(
                    f"Can't find end of {_MDV2_NAMES[stack[-1][0]]} entity at byte offset "
                    f"{at(stack[-1][2])}"
                )
            else:
                stack.append((marker, out_len, i))
            i += len(marker)
            continue
        if ch == "!" and source.startswith("![", i):
            links.append((True, out_len, i))
            i += 2
            continue
        if ch == "[":
            links.append((False, out_len, i))
            i += 1
            continue
        if ch == "]" and links:
            is_emoji, start, begin = links.pop()
            if not source.startswith("(", i + 1):
                if is_emoji:
                    raise ParseError(
                        f"Can't find end of CustomEmoji entity at byte offset {at(begin)}"
                    )
                raise ParseError(
                    "Character ']' is reserved and must be escaped with the preceding '\\'"
                )
            end = i + 2
            url_chars: list[str] = []
            while end < n and source[end] != ")":
                if source[end] == "\\" and end + 1 < n:
                    end += 1
                url_chars.append(source[end])
                end += 1
            if end >= n:
                raise ParseError(f"Can't find end of a URL at byte offset {at(i + 1)}")
            url = "".join(url_chars)
            if is_emoji:
                match = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
                if match is None:
                    raise ParseError("Custom emoji URL must have an emoji identifier")
                entity = _add(entities, "custom_emoji", start, out_len)
                if entity is not None:
                    entity["custom_emoji_id"] = match.group(1)
            else:
                entity = _add(entities, "text_link", start, out_len)
                if entity is not None:
                    entity["url"] = url
            i = end + 1
            continue
        if ch in _MDV2_RESERVED:
            raise ParseError(_reserved(ch))
        emit(ch)
        i += 1
    if stack:
        marker, _, index = stack[-1]
        raise ParseError(
            f"Can't find end of {_MDV2_NAMES[marker]} entity at byte offset {at(index)}"
        )
    if links:
        kind = "CustomEmoji" if links[-1][0] else "TextUrl"
        raise ParseError(f"Can't find end of {kind} entity at byte offset {at(links[-1][2])}")
    if quote is not None:
        _add(entities, quote[0], quote[1], out_len)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _reserved(char: str) -> str:
    return f"Character '{char}' is reserved and must be escaped with the preceding '\\'"


def _md_code_unescape(body: str) -> str:
    return re.sub(r"\\([`\\])", r"\1", body)


def _add(entities: list[Entity], kind: str, start: int, end: int) -> Entity | None:
    if end <= start:
        return None
    entity: Entity = {"type": kind, "offset": start, "length": end - start}
    entities.append(entity)
    return entity


# -- legacy Markdown -------------------------------------------------------------------------


def parse_markdown(source: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    out_len = 0
    entities: list[Entity] = []
    i = 0
    n = len(source)
    kinds = {"*": "bold", "_": "italic", "`": "code"}
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.append(source[i + 1])
            out_len += 1
            i += 2
            continue
        if source.startswith("```", i):
            end = source.find("```", i + 3)
            if end == -1:
                raise ParseError(
                    "Can't find end of the entity starting at byte offset "
                    f"{_byte_offset(source, i)}"
                )
            body = source[i + 3 : end]
            start = out_len
            out.append(body)
            out_len += utf16_len(body)
            _add(entities, "pre", start, out_len)
            i = end + 3
            continue
        if ch in kinds:
            end = source.find(ch, i + 1)
            if end == -1:
                raise ParseError(
                    "Can't find end of the entity starting at byte offset "
                    f"{_byte_offset(source, i)}"
                )
            body = source[i + 1 : end]
            start = out_len
            out.append(body)
            out_len += utf16_len(body)
            _add(entities, kinds[ch], start, out_len)
            i = end + 1
            continue
        if ch == "[":
            close = source.find("](", i)
            end = source.find(")", close + 2) if close != -1 else -1
            if close == -1 or end == -1:
                raise ParseError(
                    "Can't find end of the entity starting at byte offset "
                    f"{_byte_offset(source, i)}"
                )
            body = source[i + 1 : close]
            start = out_len
            out.append(body)
            out_len += utf16_len(body)
            entity = _add(entities, "text_link", start, out_len)
            if entity is not None:
                entity["url"] = source[close + 2 : end]
            i = end + 1
            continue
        out.append(ch)
        out_len += utf16_len(ch)
        i += 1
    return "".join(out), entities


# -- common ----------------------------------------------------------------------------------


def strip_text(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Telegram trims leading and trailing whitespace and moves the entities with the text."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def format_text(
    text: str, parse_mode: str | None, entities: list[Entity] | None
) -> tuple[str, list[Entity]]:
    """Apply ``parse_mode`` (or explicit ``entities``) the way sendMessage does."""
    if parse_mode and parse_mode.lower() != "none":  # parse_mode wins over entities
        mode = parse_mode.lower()
        if mode == "html":
            parsed = parse_html(text)
        elif mode == "markdownv2":
            parsed = parse_markdown_v2(text)
        elif mode == "markdown":
            parsed = parse_markdown(text)
        else:
            raise UnsupportedParseMode(parse_mode)
    else:
        parsed = (text, list(entities or []))
        total = utf16_len(text)
        for entity in parsed[1]:
            if entity["offset"] < 0 or entity["length"] <= 0:
                raise ParseError("Entity offset or length is invalid")
            if entity["offset"] + entity["length"] > total:
                raise ParseError("Entity end is beyond the end of the text")
    return strip_text(*parsed)
