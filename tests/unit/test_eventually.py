"""The e2e tests' one polling helper: what it returns, what it waits for, how it fails."""

from __future__ import annotations

import pytest

from tests.harness import eventually


async def test_returns_the_first_value_that_is_not_none_or_false() -> None:
    answers: list[int | bool | None] = [None, False, 0, 7]
    seen: list[int | bool | None] = []

    async def check() -> int | bool | None:
        seen.append(answers[len(seen)])
        return seen[-1]

    # 0 counts as a value: only None and False mean "not yet".
    assert await eventually(check, "a value", interval=0) == 0
    assert seen == [None, False, 0]


async def test_a_plain_function_is_polled_too() -> None:
    calls: list[int] = []

    def check() -> str | None:
        calls.append(1)
        return "ready" if len(calls) == 3 else None

    assert await eventually(check, "ready", interval=0) == "ready"
    assert len(calls) == 3


async def test_it_fails_with_what_was_awaited() -> None:
    calls: list[int] = []

    async def never() -> bool:
        calls.append(1)
        return False

    with pytest.raises(AssertionError, match=r"the outbox drained did not happen within 0 s"):
        await eventually(never, "the outbox drained", timeout=0)
    assert calls == [1]  # looked once before giving up
