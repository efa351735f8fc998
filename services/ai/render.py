"""Model Markdown → Telegram-safe HTML, split into messages of at most 4096 characters.

1. ``chatgpt-md-converter`` (a maintained converter for exactly this job) turns Markdown into
   Telegram's HTML subset: code blocks with language, inline code, bold/italic/strike, links,
   lists as bullets, block quotes.
2. The HTML is re-parsed into *runs* (text + the stack of open tags). Anything Telegram would
   reject is repaired on the way: unknown tags dropped, tags inside ``code``/``pre`` dropped,
   nested links or block quotes flattened, stray closing tags ignored, unclosed tags closed.
3. The runs are split at the best boundary below the limit — a blank line or a code-block edge,
   else a line break (inside code: between lines), else a space, else anywhere — and each part is
   rendered with its open tags closed at the end and reopened in the next part, so a code block
   split across messages is closed and reopened with its language.

Every part also has a plain-text twin, sent when Telegram still refuses the entities.
Lengths are counted in UTF-16 code units, as Telegram does.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from html.parser import HTMLParser

from chatgpt_md_converter import telegram_format

log = logging.getLogger(__name__)

TELEGRAM_LIMIT = 4096

_SIMPLE = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler"}
_BLOCKS = {"pre", "code", "blockquote"}


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    attrs: str = ""
    """Already escaped and quoted, with a leading space: ``' href="…"'``."""

    @property
    def open(self) -> str:
        return f"<{self.name}{self.attrs}>"

    @property
    def close(self) -> str:
        return f"</{self.name}>"


Stack = tuple[Tag, ...]


@dataclass(frozen=True, slots=True)
class Run:
    text: str
    stack: Stack


@dataclass(frozen=True, slots=True)
class Part:
    """One Telegram message: ``html`` for ``parse_mode=HTML``, ``plain`` as the fallback."""

    html: str
    plain: str


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _in_code(stack: Stack) -> bool:
    return any(t.name in ("pre", "code") for t in stack)


class _RunBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[Tag] = []
        self.runs: list[Run] = []

    def _push_text(self, text: str) -> None:
        if not text:
            return
        stack = tuple(self.stack)
        if self.runs and self.runs[-1].stack == stack:
            self.runs[-1] = Run(self.runs[-1].text + text, stack)
        else:
            self.runs.append(Run(text, stack))

    def handle_data(self, data: str) -> None:
        self._push_text(data)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._push_text("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {t.name for t in self.stack}
        if tag == "br":
            self._push_text("\n")
            return
        if _in_code(tuple(self.stack)):
            # Telegram allows only <code> directly inside <pre>; everything else is dropped.
            if tag == "code" and self.stack and self.stack[-1].name == "pre":
                self.stack.append(Tag("code", _lang_attr(attrs)))
            return
        if tag in _SIMPLE:
            if tag not in names:
                self.stack.append(Tag(tag))
        elif tag == "span":
            if dict(attrs).get("class") == "tg-spoiler" and "tg-spoiler" not in names:
                self.stack.append(Tag("tg-spoiler"))
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            if href and "a" not in names and _safe_href(href):
                self.stack.append(Tag("a", f' href="{html.escape(href, quote=True)}"'))
        elif tag == "blockquote":
            if "blockquote" not in names:
                expandable = any(k == "expandable" for k, _ in attrs)
                self.stack.append(Tag("blockquote", " expandable" if expandable else ""))
        elif tag in ("pre", "code"):
            self.stack.append(Tag(tag, _lang_attr(attrs) if tag == "code" else ""))
        # any other tag: dropped, its text kept

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            tag = "tg-spoiler"
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].name == tag:
                # Close it; tags opened after it and still open are reopened after it
                # (mis-nested markup like <b><i></b></i>), except inside code.
                reopen = [t for t in self.stack[i + 1 :] if tag not in ("pre", "code")]
                del self.stack[i:]
                self.stack.extend(reopen)
                return
        # a closing tag with nothing open: ignored


def _lang_attr(attrs: list[tuple[str, str | None]]) -> str:
    cls = dict(attrs).get("class") or ""
    if cls.startswith("language-") and all(c.isalnum() or c in "-_+#." for c in cls):
        return f' class="{cls}"'
    return ""


def _safe_href(href: str) -> bool:
    lowered = href.strip().lower()
    return lowered.startswith(("http://", "https://", "tg://", "mailto:"))


BlockCache = dict[str, list[Run]]
"""Converted blocks of one reply, kept by its presenter while it streams (and dropped with it)."""


def markdown_blocks(markdown: str) -> list[str]:
    """Split at blank lines outside code fences: blocks convert independently, so while a reply
    streams only its last block needs converting again."""
    blocks: list[str] = []
    current: list[str] = []
    fence: str | None = None
    for line in markdown.split("\n"):
        stripped = line.lstrip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
        elif fence is not None and stripped.startswith(fence):
            fence = None
        if fence is None and not line.strip() and current:
            blocks.append("\n".join(current))
            current = []
            continue
        if not line.strip() and not current:
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _convert_block(block: str) -> list[Run]:
    try:
        converted = telegram_format(block)
    except Exception:  # the converter must never cost the user their answer
        log.warning("markdown conversion failed; sending plain text", exc_info=True)
        return [Run(block, ())]
    return html_to_runs(converted.strip("\n"))


def markdown_to_runs(markdown: str, cache: BlockCache | None = None) -> list[Run]:
    runs: list[Run] = []
    for block in markdown_blocks(markdown):
        converted = cache.get(block) if cache is not None else None
        if converted is None:
            converted = _convert_block(block)
            if cache is not None:
                cache[block] = converted
        if runs and converted:
            runs.append(Run("\n\n", ()))
        runs.extend(converted)
    return runs


def html_to_runs(text: str) -> list[Run]:
    builder = _RunBuilder()
    builder.feed(text)
    builder.close()
    return builder.runs


def runs_to_html(runs: list[Run]) -> str:
    out: list[str] = []
    current: Stack = ()
    for run in runs:
        common = 0
        while (
            common < len(current)
            and common < len(run.stack)
            and current[common] == run.stack[common]
        ):
            common += 1
        out.extend(t.close for t in reversed(current[common:]))
        out.extend(t.open for t in run.stack[common:])
        out.append(html.escape(run.text, quote=False))
        current = run.stack
    out.extend(t.close for t in reversed(current))
    return "".join(out)


def to_html(markdown: str) -> str:
    """The whole reply as Telegram HTML, unsplit (for logs and tests)."""
    return runs_to_html(markdown_to_runs(markdown))


def _char_stacks(runs: list[Run]) -> tuple[str, list[Stack]]:
    text = "".join(r.text for r in runs)
    stacks: list[Stack] = []
    for r in runs:
        stacks.extend([r.stack] * len(r.text))
    return text, stacks


def _slice(text: str, stacks: list[Stack], start: int, end: int) -> list[Run]:
    runs: list[Run] = []
    i = start
    while i < end:
        j = i + 1
        while j < end and stacks[j] == stacks[i]:
            j += 1
        runs.append(Run(text[i:j], stacks[i]))
        i = j
    return runs


def _best_cut(text: str, stacks: list[Stack], start: int, hard_end: int) -> int:
    """The end (exclusive) of the part that starts at ``start``; ``hard_end`` fits the limit."""
    if hard_end >= len(text):
        return len(text)
    floor = start + (hard_end - start) // 2  # never make a part shorter than half the limit
    # candidates scanned from the right; the first (rightmost) of the best class wins
    best: dict[int, int] = {}
    for pos in range(hard_end, floor, -1):
        # cut between text[pos - 1] and text[pos]
        prev, nxt = stacks[pos - 1], stacks[pos]
        code_edge = _in_code(prev) != _in_code(nxt)
        if text[pos - 1] == "\n":
            if code_edge or (pos >= 2 and text[pos - 2] == "\n" and not _in_code(prev)):
                return pos  # blank line or code-block edge: the best possible cut
            best.setdefault(1 if not _in_code(prev) else 2, pos)
        elif code_edge:
            return pos
        elif text[pos - 1] in " \t":
            best.setdefault(3, pos)
    for rank in (1, 2, 3):
        if rank in best:
            return best[rank]
    return hard_end


def _hard_end(text: str, start: int, limit: int) -> int:
    units = 0
    pos = start
    while pos < len(text):
        units += 2 if ord(text[pos]) > 0xFFFF else 1
        if units > limit:
            break
        pos += 1
    return pos


def split_runs(runs: list[Run], limit: int = TELEGRAM_LIMIT) -> list[list[Run]]:
    if sum(utf16_len(r.text) for r in runs) <= limit:  # the usual case: one message
        text = "".join(r.text for r in runs)
        trimmed = _trim(runs)
        return [trimmed] if text.strip() and trimmed else []
    text, stacks = _char_stacks(runs)
    parts: list[list[Run]] = []
    start = 0
    while start < len(text):
        # skip newlines at the top of a part (outside code, where they would show as gaps)
        while start < len(text) and text[start] == "\n" and not _in_code(stacks[start]):
            start += 1
        if start >= len(text):
            break
        end = _best_cut(text, stacks, start, _hard_end(text, start, limit))
        piece = _slice(text, stacks, start, end)
        if "".join(r.text for r in piece).strip():
            parts.append(piece)
        start = end
    return parts


def _trim(runs: list[Run]) -> list[Run]:
    """Drop leading newlines outside code (as the splitter does at the top of each part)."""
    out = list(runs)
    while out and not _in_code(out[0].stack) and out[0].text.lstrip("\n") != out[0].text:
        rest = out[0].text.lstrip("\n")
        if rest:
            out[0] = Run(rest, out[0].stack)
            break
        out.pop(0)
    return out


def render(
    markdown: str, limit: int = TELEGRAM_LIMIT, cache: BlockCache | None = None
) -> list[Part]:
    """Split a model reply into Telegram messages (HTML + plain twin each)."""
    parts = []
    for piece in split_runs(markdown_to_runs(markdown, cache), limit):
        plain = "".join(r.text for r in piece)
        parts.append(Part(html=runs_to_html(piece), plain=plain.strip() or plain))
    return parts


def render_plain(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split plain text the same way (used when HTML is not wanted at all)."""
    return [
        "".join(r.text for r in piece)
        for piece in split_runs([Run(text, ())] if text else [], limit)
    ]
