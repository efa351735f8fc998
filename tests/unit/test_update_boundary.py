"""The error boundary: transient failures run the update again, final ones are counted and told."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.exceptions
import sqlalchemy.exc
from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import SendMessage
from aiogram.types import Chat, Message, SuccessfulPayment, TelegramObject, Update
from aiogram.types import User as TgUser

from bot.i18n import Translator
from bot.metrics import Metrics
from middlewares.data import view
from middlewares.updates import ErrorBoundaryMiddleware, InFlightMiddleware, is_transient

NOW = datetime(2026, 12, 3, tzinfo=UTC)


class RecordingBot:
    """Stands in for aiogram's Bot at the one call the boundary makes: what the user is told."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, **_: Any) -> None:
        self.sent.append((chat_id, text))


def update() -> Update:
    sender = TgUser(id=7, is_bot=False, first_name="B", language_code="en")
    message = Message(
        message_id=1, date=NOW, chat=Chat(id=7, type="private"), from_user=sender, text="/help"
    )
    return Update(update_id=1, message=message)


def dead_connection() -> sqlalchemy.exc.DBAPIError:
    return sqlalchemy.exc.DBAPIError(
        "SELECT 1", None, ConnectionResetError(), connection_invalidated=True
    )


async def run(failures: list[Exception]) -> tuple[int, RecordingBot, Metrics, Any]:
    metrics = Metrics()
    bot = RecordingBot()
    calls = 0

    async def handler(event: TelegramObject, data: dict[str, Any]) -> str:
        nonlocal calls
        calls += 1
        # A fresh attempt never sees what the failed one left in its data.
        assert "session" not in data
        data["session"] = object()
        if failures:
            raise failures.pop(0)
        return "done"

    boundary = ErrorBoundaryMiddleware(Translator(), metrics, max_delay=0)
    data: dict[str, Any] = {"bot": bot, "event_from_user": update().message.from_user}  # type: ignore[union-attr]
    result = await boundary(handler, update(), data)
    return calls, bot, metrics, (result, view(data).get("delivery"))


def errors(metrics: Metrics) -> float:
    return float(metrics.errors.labels("message")._value.get())


async def test_a_dead_pooled_connection_is_retried_at_once_without_telling_anyone() -> None:
    calls, bot, metrics, (result, delivery) = await run([dead_connection()])
    assert (calls, result, bot.sent) == (2, "done", [])
    assert delivery is not None
    assert delivery.attempt == 1
    # The failure is still visible to operators.
    assert errors(metrics) == 1


async def test_an_outage_tells_the_user_once_and_the_update_runs_when_it_is_over() -> None:
    outage: list[Exception] = [redis.exceptions.ConnectionError("down")] * 4
    outage += [sqlalchemy.exc.OperationalError("SELECT 1", None, OSError("refused"))] * 3
    calls, bot, metrics, (result, _) = await run(outage)
    assert calls == 8
    assert result == "done"
    unavailable = Translator().get("en", "error-unavailable")
    assert bot.sent == [(7, unavailable)]
    assert errors(metrics) == 1


async def test_a_final_failure_is_counted_and_apologised_for_once() -> None:
    calls, bot, metrics, (result, _) = await run([ValueError("a bug")])
    assert (calls, result) == (1, None)
    assert bot.sent == [(7, Translator().get("en", "error-generic"))]
    assert errors(metrics) == 1


async def test_a_handler_that_succeeds_is_not_counted() -> None:
    calls, bot, metrics, (result, _) = await run([])
    assert (calls, result, bot.sent, errors(metrics)) == (1, "done", [], 0)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (dead_connection(), True),
        (sqlalchemy.exc.DBAPIError("x", None, ValueError()), False),
        (sqlalchemy.exc.IntegrityError("x", None, ValueError()), False),
        (sqlalchemy.exc.TimeoutError("pool"), True),
        (redis.exceptions.TimeoutError(), True),
        (ConnectionRefusedError(), True),
        (ValueError(), False),
    ],
)
def test_what_counts_as_transient(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_a_failure_raised_from_a_transient_one_is_transient() -> None:
    error = RuntimeError("lock service")
    error.__cause__ = redis.exceptions.ConnectionError("down")
    assert is_transient(error)


async def test_shutdown_waits_for_the_updates_in_hand() -> None:
    in_flight = InFlightMiddleware(timeout=30)
    release = asyncio.Event()
    finished: list[bool] = []

    async def handler(event: TelegramObject, data: dict[str, Any]) -> None:
        await release.wait()
        finished.append(True)

    running = asyncio.create_task(in_flight(handler, update(), {}))
    await asyncio.sleep(0)
    assert in_flight.count == 1
    drain = asyncio.create_task(in_flight.drain())
    await asyncio.sleep(0)
    assert not drain.done()
    release.set()
    await drain
    assert finished == [True]
    await running


async def test_at_shutdown_a_transient_failure_becomes_final() -> None:
    stopping = asyncio.Event()
    stopping.set()
    bot = RecordingBot()

    async def handler(event: TelegramObject, data: dict[str, Any]) -> None:
        raise redis.exceptions.ConnectionError("down")

    boundary = ErrorBoundaryMiddleware(Translator(), Metrics(), stopping=stopping)
    data: dict[str, Any] = {"bot": bot, "event_from_user": update().message.from_user}  # type: ignore[union-attr]
    assert await boundary(handler, update(), data) is None
    assert bot.sent == [(7, Translator().get("en", "error-generic"))]


def charge_update() -> Update:
    sender = TgUser(id=7, is_bot=False, first_name="B", language_code="en")
    paid = SuccessfulPayment(
        currency="XTR",
        total_amount=50,
        invoice_payload="lb1:p:small:x:50:500",
        telegram_payment_charge_id="stx1",
        provider_payment_charge_id="stx1",
    )
    message = Message(
        message_id=1,
        date=NOW,
        chat=Chat(id=7, type="private"),
        from_user=sender,
        successful_payment=paid,
    )
    return Update(update_id=2, message=message)


@pytest.mark.parametrize(
    "failures",
    [
        [ValueError("a bug")],  # final
        [redis.exceptions.ConnectionError("down")] * 3,  # an outage, then it succeeds
    ],
)
async def test_after_a_charge_the_user_is_never_told_to_try_again(
    failures: list[Exception],
) -> None:
    """Telegram has taken the Stars: "received; credits on the way", whatever failed."""
    bot = RecordingBot()

    async def handler(event: TelegramObject, data: dict[str, Any]) -> None:
        if failures:
            raise failures.pop(0)

    boundary = ErrorBoundaryMiddleware(Translator(), Metrics(), max_delay=0)
    event = charge_update()
    data: dict[str, Any] = {"bot": bot, "event_from_user": event.message.from_user}  # type: ignore[union-attr]
    await boundary(handler, event, data)
    assert bot.sent == [(7, Translator().get("en", "pay-receipt-pending"))]


async def test_a_chat_gone_mid_update_is_dropped_not_failed() -> None:
    # Blocked by the user, or removed from the group, while the update was handled: Telegram
    # refuses every call there, the apology too, so nothing is counted and nobody is told.
    gone = TelegramForbiddenError(
        method=SendMessage(chat_id=7, text="x"), message="Forbidden: bot was blocked by the user"
    )
    calls, bot, metrics, (result, _) = await run([gone])
    assert (calls, result, bot.sent) == (1, None, [])
    assert errors(metrics) == 0
