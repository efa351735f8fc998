"""Catalogue, token estimates, key recognition, the send limiter and the context planner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.ai.catalogue import Catalogue, CatalogueError, ModelInfo, ProviderName
from services.ai.context import SUMMARY_PREFIX, Summary, Turn, plan
from services.ai.keys import guess_provider, plausible
from services.ai.personas import CUSTOM, SHIPPED, system_prompt
from services.ai.tokens import MESSAGE_OVERHEAD, TokenCounter, estimate_text, warm_up

GPT = ModelInfo("gpt-4o-mini", ProviderName.OPENAI, "GPT-4o mini", 128_000, 150, 600)
CLAUDE = ModelInfo("claude-haiku-4-5", ProviderName.ANTHROPIC, "Claude", 200_000, 800, 4000)


def test_shipped_catalogue_loads_and_prices() -> None:
    catalogue = Catalogue.load()
    assert len(catalogue) >= 10
    assert {m.provider for m in catalogue} == set(ProviderName)
    mini = catalogue.get("gpt-4o-mini")
    assert mini is not None
    assert mini.cost(1_000_000, 0) == 150
    assert mini.cost(1000, 500) == 1  # 0.45 credits, rounded up
    assert mini.cost(0, 0) == 0
    local = catalogue.by_provider(ProviderName.COMPAT)
    assert local
    assert all(m.free for m in local)


@pytest.mark.parametrize(
    ("toml", "error"),
    [
        ("", "one or more"),
        (
            '[[model]]\nid = "x"\nprovider = "nope"\nname = "X"\ncontext = 1000\n'
            "input_price = 1\noutput_price = 1\n",
            "unknown provider",
        ),
        (
            '[[model]]\nid = "x"\nprovider = "openai"\nname = "X"\ncontext = 10\n'
            "input_price = 1\noutput_price = 1\n",
            "context",
        ),
        (
            '[[model]]\nid = "x"\nprovider = "openai"\nname = "X"\ncontext = 1000\n'
            "input_price = -1\noutput_price = 1\n",
            "input_price",
        ),
    ],
)
def test_bad_catalogue_is_refused_with_a_reason(tmp_path: Path, toml: str, error: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(toml)
    with pytest.raises(CatalogueError, match=error):
        Catalogue.load(path)


def test_token_counts() -> None:
    gpt = TokenCounter(GPT)
    assert gpt.exact
    assert gpt.text("Hello, world!") == 4  # o200k_base
    assert gpt.message("Hello, world!") == 4 + MESSAGE_OVERHEAD
    claude = TokenCounter(CLAUDE)
    assert not claude.exact
    assert claude.text("abcdefgh") == 2  # 4 ASCII characters a token
    assert claude.text("こんにちは") == 5  # one per non-ASCII character
    assert estimate_text("ab こんにちは") == 1 + 5
    assert warm_up([GPT, CLAUDE]) == 1


def test_keys_are_recognised() -> None:
    assert guess_provider("sk-ant-api03-abc") is ProviderName.ANTHROPIC
    assert guess_provider("sk-proj-abc") is ProviderName.OPENAI
    assert guess_provider("AIzaSyD-abc") is ProviderName.GEMINI
    assert guess_provider("hello") is None
    assert plausible("sk-proj-0123456789abcdef")
    assert not plausible("short")
    assert not plausible("sk-has spaces in it 0123456789")


def test_personas() -> None:
    assert len(SHIPPED) >= 4
    assert system_prompt(None, None) == SHIPPED[0].prompt
    assert system_prompt("teacher", None).startswith("You are a patient teacher")
    assert system_prompt(CUSTOM, "Talk like a pirate.").startswith("Talk like a pirate.")
    assert system_prompt(CUSTOM, None) == SHIPPED[0].prompt
    assert system_prompt("unknown", None) == SHIPPED[0].prompt


def _turns(count: int, tokens: int) -> list[Turn]:
    now = datetime.now(UTC)
    return [
        Turn(
            i + 1,
            "user" if i % 2 == 0 else "assistant",
            f"turn {i}",
            tokens,
            now,
            now + timedelta(hours=24 - i / 10),
        )
        for i in range(count)
    ]


def test_plan_sends_everything_when_it_fits() -> None:
    turns = _turns(6, 10)
    result = plan(
        system="sys",
        turns=turns,
        summary=None,
        prompt="now",
        counter=TokenCounter(CLAUDE),
        window=10_000,
        reply_room=1000,
        trigger_ratio=0.75,
    )
    assert [m.content for m in result.messages] == ["sys", *[t.text for t in turns], "now"]
    assert result.to_summarise == []
    assert result.dropped == 0


def test_plan_folds_older_turns_into_a_summary_and_reuses_one() -> None:
    turns = _turns(20, 100)
    counter = TokenCounter(CLAUDE)
    result = plan(
        system="sys",
        turns=turns,
        summary=None,
        prompt="now",
        counter=counter,
        window=3000,
        reply_room=500,
        trigger_ratio=0.75,
    )
    assert result.to_summarise  # the oldest turns, to be summarised
    assert result.to_summarise[0].id == 1
    kept = [m.content for m in result.messages[1:-1]]
    assert kept == [t.text for t in turns[len(result.to_summarise) :]]
    assert sum(t.tokens for t in turns[len(result.to_summarise) :]) <= (3000 - 500) // 2 + 100

    # with a stored summary that covers the first 14 turns, only the rest is sent with it
    summary = Summary(1, 14, "they talked", 10, turns[0].expires_at)
    reused = plan(
        system="sys",
        turns=turns,
        summary=summary,
        prompt="now",
        counter=counter,
        window=3000,
        reply_room=500,
        trigger_ratio=0.75,
    )
    assert reused.to_summarise == []
    assert reused.messages[1].content == SUMMARY_PREFIX + "they talked"
    assert [m.content for m in reused.messages[2:-1]] == [t.text for t in turns[14:]]


def test_plan_never_exceeds_the_window() -> None:
    turns = _turns(3, 5000)  # each turn alone is larger than the room
    result = plan(
        system="sys",
        turns=turns,
        summary=None,
        prompt="now",
        counter=TokenCounter(CLAUDE),
        window=4000,
        reply_room=1000,
        trigger_ratio=0.75,
    )
    assert result.prompt_tokens <= 3000
    assert [m.content for m in result.messages] == ["sys", "now"]
    assert result.dropped == 3
