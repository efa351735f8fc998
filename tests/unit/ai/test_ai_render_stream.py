"""Markdown → Telegram HTML, splitting, and the streaming presenter (with a recording sender)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from services.ai.render import TELEGRAM_LIMIT, render, render_plain, to_html, utf16_len
from services.ai.stream import (
    EntitiesRejected,
    Markup,
    Pace,
    StreamPresenter,
    StreamScheduler,
    Target,
)
from services.sendbudget import Priority, current_priority

ALLOWED = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a",
    "blockquote", "tg-spoiler",
}  # fmt: skip


class _Checker(HTMLParser):
    """Fails on what Telegram's HTML parser rejects: unknown tags, bad nesting, unclosed tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in ALLOWED, tag
        if self.stack and self.stack[-1] in ("code", "pre"):
            assert (tag, self.stack[-1]) == ("code", "pre"), f"<{tag}> in <{self.stack[-1]}>"
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"stray </{tag}>"
        assert self.stack.pop() == tag, f"mis-nested </{tag}>"

    def handle_data(self, data: str) -> None:
        self.text += data


def check_html(text: str) -> str:
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert checker.stack == [], f"unclosed {checker.stack}"
    return checker.text


# --------------------------------------------------------------------------------- render
def test_code_blocks_lists_links() -> None:
    out = to_html(
        "# Title\nSome **bold**, *it*, `x<y` and [a link](https://example.org/?a=1&b=2)\n\n"
        "- one\n- two\n\n```python\nif a < b and c > d:\n    pass\n```\n"
    )
    check_html(out)
    assert "<b>Title</b>" in out
    assert "<b>bold</b>" in out
    assert "<code>x&lt;y</code>" in out
    assert '<a href="https://example.org/?a=1&amp;b=2">a link</a>' in out
    assert "• one" in out
    assert '<pre><code class="language-python">if a &lt; b and c &gt; d:' in out


@pytest.mark.parametrize(
    "markdown",
    [
        "Unbalanced **bold and `code\n> quote\n",
        "```python\nnever closed",
        "*a **b* c**",
        "<b>raw html</b> <script>x</script> & done",
        "[bad](javascript:alert(1)) ~~strike",
        "> quote **bold\n> more",
        "__init__ and a_b_c and 2*3*4",
        "`` ` `` and ```` ``` ````",
        "||spoiler|| and <tg-spoiler>x</tg-spoiler>",
    ],
)
def test_broken_markdown_always_yields_valid_html(markdown: str) -> None:
    (part,) = render(markdown)
    visible = check_html(part.html)
    assert visible.strip() == part.plain.strip()
    assert "javascript:" not in part.html


def test_raw_html_from_the_model_is_escaped() -> None:
    out = to_html("<b>x</b> <img src=x onerror=alert(1)>")
    assert "<img" not in out
    assert "&lt;img" in out


def test_long_reply_split_at_paragraphs() -> None:
    paragraph = "word " * 150  # 750 characters
    markdown = "\n\n".join(f"{i} {paragraph}" for i in range(14))  # ~10,500 characters
    parts = render(markdown)
    assert len(parts) == 3
    for part in parts:
        assert utf16_len(check_html(part.html)) <= TELEGRAM_LIMIT
        assert part.plain.endswith("word")  # cut between paragraphs, never inside one
    joined = " ".join(p.plain for p in parts)
    assert all(f"{i} word" in joined for i in range(14))


def test_code_block_split_is_closed_and_reopened() -> None:
    code = "\n".join(f"value_{i} = compute({i}) * 2  # step {i}" for i in range(300))
    markdown = f"Intro.\n\n```python\n{code}\n```\n\nDone."
    parts = render(markdown)
    assert len(parts) >= 3
    assert parts[0].plain.startswith("Intro.")
    for part in parts:
        check_html(part.html)
        assert utf16_len(part.plain) <= TELEGRAM_LIMIT
    code_parts = [p for p in parts if "value_" in p.plain]
    for p in code_parts:
        assert '<pre><code class="language-python">' in p.html
        assert p.html.count("<pre>") == p.html.count("</pre>")
    # every code line arrives whole, in order, exactly once
    lines = [ln for p in parts for ln in p.plain.splitlines() if ln.startswith("value_")]
    assert lines == code.splitlines()
    assert parts[-1].plain.endswith("Done.")


def test_split_counts_utf16_and_never_breaks_surrogates() -> None:
    text = "😀" * 5000  # 10,000 UTF-16 units, no spaces at all
    parts = render_plain(text)
    assert [utf16_len(p) for p in parts] == [4096, 4096, 1808]
    assert "".join(parts) == text


def test_limit_respected_with_entities_and_no_whitespace() -> None:
    markdown = "**" + "x" * 9000 + "**"
    parts = render(markdown)
    assert len(parts) == 3
    for p in parts:
        assert p.html.startswith("<b>")
        assert p.html.endswith("</b>")
        assert utf16_len(check_html(p.html)) <= TELEGRAM_LIMIT


def test_empty_and_whitespace() -> None:
    assert render("") == []
    assert render("\n\n  \n") == []


# ------------------------------------------------------------------------------ presenter
@dataclass
class Call:
    method: str
    text: str
    html: bool
    message_id: int | None = None
    markup: Markup | None = None
    priority: Priority = Priority.HIGH


@dataclass
class RecordingSender:
    calls: list[Call] = field(default_factory=list)
    reject_html: bool = False
    next_id: int = 100
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    # Intermediate updates wait here, as if the send budget queued them behind other answers.
    held: asyncio.Event | None = None
    holding: asyncio.Event = field(default_factory=asyncio.Event)

    async def _hold(self) -> None:
        if self.held is not None and current_priority() is Priority.DRAFT:
            self.holding.set()
            await self.held.wait()

    def _record(self, call: Call) -> None:
        call.priority = current_priority()
        if call.html and self.reject_html and call.method != "typing":
            raise EntitiesRejected("can't parse entities")
        self.calls.append(call)
        self.changed.set()

    async def send_draft(
        self, chat_id: int, draft_id: int, text: str, *, html: bool, thread_id: int | None
    ) -> None:
        await self._hold()
        self._record(Call("draft", text, html))

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        html: bool,
        thread_id: int | None,
        reply_to: int | None,
        markup: Markup | None,
    ) -> int:
        self.next_id += 1
        self._record(Call("send", text, html, self.next_id, markup))
        return self.next_id

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, *, html: bool, markup: Markup | None
    ) -> None:
        await self._hold()
        self._record(Call("edit", text, html, message_id, markup))

    async def send_chat_action(self, chat_id: int, *, thread_id: int | None) -> None:
        self._record(Call("typing", "", False))

    async def wait_for(self, method: str, count: int = 1) -> None:
        while len([c for c in self.calls if c.method == method]) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 5)

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]


FAST = Pace(edit_interval=0.01, group_edit_interval=0.01, draft_interval=0.01)
SLOW = Pace(edit_interval=30, group_edit_interval=30, draft_interval=30)
BUTTONS: Markup = object()
STOP: Markup = object()


async def test_private_chat_streams_drafts_then_sends_final() -> None:
    sender = RecordingSender()
    presenter = StreamPresenter(sender, Target(chat_id=1, private=True), pace=FAST)
    presenter.start_typing()
    await sender.wait_for("typing")
    presenter.feed("Hello ")
    await sender.wait_for("draft")
    presenter.feed("**world**")
    await sender.wait_for("draft", 2)
    delivery = await presenter.finish(markup=BUTTONS)
    assert sender.calls[0].method == "typing"
    drafts = sender.of("draft")
    assert drafts[0].text == "Hello"
    assert drafts[-1].text == "Hello <b>world</b>"
    (final,) = sender.of("send")
    assert final.text == "Hello <b>world</b>"
    assert final.html
    assert final.markup is BUTTONS
    assert sender.of("edit") == []
    assert delivery.message_ids == [final.message_id]
    assert delivery.first_visible_at is not None


async def test_group_edits_one_message_and_ends_with_buttons() -> None:
    sender = RecordingSender()
    presenter = StreamPresenter(
        sender, Target(chat_id=-100, private=False, thread_id=7), pace=FAST, stop_markup=STOP
    )
    presenter.feed("One")
    await sender.wait_for("send")
    presenter.feed(" two")
    await sender.wait_for("edit")
    presenter.feed(" three")
    delivery = await presenter.finish(markup=BUTTONS)
    (first,) = sender.of("send")
    assert first.text == "One"
    assert first.markup is STOP
    edits = sender.of("edit")
    assert all(e.message_id == first.message_id for e in edits)
    assert edits[-1].text == "One two three"
    assert edits[-1].markup is BUTTONS
    assert sender.of("draft") == []
    assert delivery.message_ids == [first.message_id]


async def test_updates_are_throttled() -> None:
    sender = RecordingSender()
    presenter = StreamPresenter(sender, Target(chat_id=5, private=False), pace=SLOW)
    presenter.feed("a")
    await sender.wait_for("send")
    for i in range(200):
        presenter.feed(f" t{i}")
        await asyncio.sleep(0)
    await presenter.finish()
    # one message at the first token, then nothing until the interval passes; the final edit
    assert [c.method for c in sender.calls] == ["send", "edit"]
    assert sender.calls[-1].text.endswith("t199")


async def test_long_reply_in_drafts_becomes_several_messages() -> None:
    sender = RecordingSender()
    presenter = StreamPresenter(sender, Target(chat_id=1, private=True), pace=FAST)
    paragraph = "lorem ipsum " * 60
    for i in range(15):
        presenter.feed(f"{i} {paragraph}\n\n")
        await asyncio.sleep(0.02)
    delivery = await presenter.finish(markup=BUTTONS)
    sends = sender.of("send")
    assert len(sends) == len(delivery.message_ids) == delivery.parts == 3
    assert all(utf16_len(s.text) <= TELEGRAM_LIMIT for s in sends)
    assert [s.markup for s in sends] == [None, None, BUTTONS]
    assert all(utf16_len(d.text) <= TELEGRAM_LIMIT for d in sender.of("draft"))
    text = " ".join(s.text for s in sends)
    assert all(re.search(rf"\b{i} lorem", text) for i in range(15))


async def test_long_reply_with_edits_splits_into_messages() -> None:
    sender = RecordingSender()
    presenter = StreamPresenter(
        sender, Target(chat_id=-1, private=False), pace=FAST, stop_markup=STOP
    )
    presenter.feed("x " * 6000)  # 12,000 characters
    delivery = await presenter.finish(markup=BUTTONS)
    assert delivery.parts == 3
    assert len(set(delivery.message_ids)) == 3
    final_texts: dict[int, Call] = {}
    for call in sender.calls:
        if call.message_id is not None:
            final_texts[call.message_id] = call
    assert [final_texts[m].markup for m in delivery.message_ids] == [None, None, BUTTONS]


async def test_rejected_entities_fall_back_to_plain() -> None:
    sender = RecordingSender(reject_html=True)
    presenter = StreamPresenter(sender, Target(chat_id=1, private=True), pace=FAST)
    presenter.feed("**bold** <tag> & `code`")
    delivery = await presenter.finish()
    (final,) = sender.of("send")
    assert not final.html
    assert final.text == "bold <tag> & code"
    assert delivery.plain


async def test_first_text_and_final_go_first_intermediate_drafts_after() -> None:
    sender = RecordingSender()
    presenter = StreamPresenter(sender, Target(chat_id=1, private=True), pace=FAST)
    presenter.feed("a")
    await sender.wait_for("draft")
    presenter.feed(" b")
    await sender.wait_for("draft", 2)
    await presenter.finish()
    assert [(c.method, c.priority) for c in sender.calls] == [
        ("draft", Priority.HIGH),  # the first visible text
        ("draft", Priority.DRAFT),
        ("send", Priority.HIGH),  # the final message
    ]


@pytest.mark.parametrize("private", [True, False])
async def test_an_update_still_queued_when_the_answer_ends_is_dropped(private: bool) -> None:
    sender = RecordingSender(held=asyncio.Event())  # never set: the budget is busy for good
    presenter = StreamPresenter(
        sender, Target(chat_id=1 if private else -5, private=private), pace=FAST
    )
    presenter.feed("a")
    await sender.wait_for("draft" if private else "send")
    presenter.feed(" b")
    await asyncio.wait_for(sender.holding.wait(), 5)  # the second update waits in the budget
    delivery = await asyncio.wait_for(presenter.finish(), 5)
    assert delivery.dropped == 1
    final = sender.calls[-1]
    assert (final.text, final.priority) == ("a b", Priority.HIGH)
    assert len(sender.calls) == 2


def test_updates_are_spaced_by_the_number_of_answers_streaming() -> None:
    scheduler = StreamScheduler(drafts_per_second=40, edits_per_second=10)
    scheduler.enter(True)
    assert scheduler.interval(0.25, drafts=True) == 0.25
    for _ in range(199):
        scheduler.enter(True)
    assert scheduler.interval(0.25, drafts=True) == pytest.approx(5.0)
    assert scheduler.interval(1.1, drafts=False) == 1.1  # no edit-mode stream
    for _ in range(30):
        scheduler.enter(False)
    assert scheduler.interval(1.1, drafts=False) == pytest.approx(3.0)
    for _ in range(200):
        scheduler.leave(True)
    assert scheduler.interval(0.25, drafts=True) == 0.25


async def test_a_presenter_counts_as_streaming_from_its_first_text_to_its_end() -> None:
    scheduler = StreamScheduler(drafts_per_second=40, edits_per_second=10)
    sender = RecordingSender()
    presenter = StreamPresenter(
        sender, Target(chat_id=1, private=True), pace=FAST, scheduler=scheduler
    )
    assert scheduler.active[True] == 0
    presenter.feed("a")
    assert scheduler.active[True] == 1
    await presenter.finish()
    assert scheduler.active == {True: 0, False: 0}


async def test_stopped_suffix_and_nothing_sent_for_empty_reply() -> None:
    sender = RecordingSender()
    presenter = StreamPresenter(sender, Target(chat_id=1, private=True), pace=SLOW)
    delivery = await presenter.finish()
    assert sender.calls == []
    assert delivery.message_ids == []
    presenter2 = StreamPresenter(sender, Target(chat_id=1, private=True), pace=SLOW)
    presenter2.feed("partial")
    await presenter2.finish(suffix="\n\n_(stopped)_")
    assert sender.of("send")[-1].text == "partial\n\n<i>(stopped)</i>"
