"""The payments service against a real database (PostgreSQL with TEST_DATABASE_URL, else SQLite),
with Telegram replaced by a small in-memory fake of the Stars methods."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import EditUserStarSubscription, RefundStarPayment
from aiogram.types import StarTransaction, StarTransactions, TransactionPartnerUser
from aiogram.types import User as TgUser
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db.engine import create_engine, create_sessionmaker
from bot.db.models import CreditMovement, MovementKind, User
from bot.db.models.payments import (
    ChargeFlag,
    Payment,
    PaymentKind,
    PaymentStatus,
    RefundSource,
    SubscriptionState,
)
from services import ledger
from services.payments import history, purchases, reconcile, refunds, subscriptions
from services.payments.catalogue import Catalogue, Item, ItemKind
from services.payments.config import PaymentsSettings
from services.payments.errors import (
    NoSubscription,
    RefundRefusal,
    RefundRefused,
    SubscriptionEditFailed,
)
from services.payments.ports import BillingEvent

PACK = Item(ItemKind.PACK, "small", 50, 500)
PLAN = Item(ItemKind.SUBSCRIPTION, "monthly", 250, 3000, 2_592_000)
CATALOGUE = Catalogue(PaymentsSettings())  # holds PACK and PLAN as they are
EPOCH = datetime.fromtimestamp(0, UTC)  # the date the fake Telegram reports for every charge
USER = 500_000_001


@dataclass
class FakeStars:
    """Telegram's side: charges, refunds, subscriptions; records every call."""

    incoming: dict[str, tuple[int, int]] = field(default_factory=dict)  # charge → (user, stars)
    refunded: list[str] = field(default_factory=list)
    refund_calls: list[str] = field(default_factory=list)
    edits: list[tuple[str, bool]] = field(default_factory=list)
    refuse_refund: str | None = None
    refuse_edit: bool = False
    gate: asyncio.Event | None = None
    called: asyncio.Event = field(default_factory=asyncio.Event)

    def paid(self, charge: str, user: int, stars: int) -> None:
        self.incoming[charge] = (user, stars)

    async def refund_star_payment(self, *, user_id: int, telegram_payment_charge_id: str) -> bool:
        self.refund_calls.append(telegram_payment_charge_id)
        self.called.set()
        if self.gate is not None:
            await self.gate.wait()
        method = RefundStarPayment(
            user_id=user_id, telegram_payment_charge_id=telegram_payment_charge_id
        )
        if self.refuse_refund:
            raise TelegramBadRequest(method, f"Bad Request: {self.refuse_refund}")
        if telegram_payment_charge_id in self.refunded:
            raise TelegramBadRequest(method, "Bad Request: CHARGE_ALREADY_REFUNDED")
        self.refunded.append(telegram_payment_charge_id)
        return True

    async def edit_user_star_subscription(
        self, *, user_id: int, telegram_payment_charge_id: str, is_canceled: bool
    ) -> bool:
        if self.refuse_edit:
            raise TelegramBadRequest(
                EditUserStarSubscription(
                    user_id=user_id,
                    telegram_payment_charge_id=telegram_payment_charge_id,
                    is_canceled=is_canceled,
                ),
                "Bad Request: SUBSCRIPTION_NOT_FOUND",
            )
        self.edits.append((telegram_payment_charge_id, is_canceled))
        return True

    async def get_star_transactions(
        self, *, offset: int | None = None, limit: int | None = None
    ) -> StarTransactions:
        items: list[StarTransaction] = []
        for charge, (user, stars) in self.incoming.items():
            partner = TransactionPartnerUser(
                transaction_type="invoice_payment",
                user=TgUser(id=user, is_bot=False, first_name="u"),
            )
            items.append(StarTransaction(id=charge, amount=stars, date=EPOCH, source=partner))
        for charge in self.refunded:
            user, stars = self.incoming[charge]
            partner = TransactionPartnerUser(
                transaction_type="invoice_payment",
                user=TgUser(id=user, is_bot=False, first_name="u"),
            )
            items.append(StarTransaction(id=charge, amount=stars, date=EPOCH, receiver=partner))
        start = offset or 0
        return StarTransactions(transactions=items[start : start + (limit or 100)])


@dataclass
class FakeBilling:
    events: list[tuple[int, BillingEvent, dict[str, object]]] = field(default_factory=list)
    fail: bool = False

    async def record(
        self,
        session: AsyncSession,
        user_id: int,
        kind: BillingEvent,
        body: Mapping[str, object],
    ) -> None:
        if self.fail:
            raise RuntimeError("log server down")
        self.events.append((user_id, kind, dict(body)))


async def _user(session: AsyncSession, user_id: int = USER) -> None:
    session.add(User(id=user_id))
    await session.commit()


async def _pay(
    session: AsyncSession,
    stars: FakeStars,
    charge: str,
    item: Item = PACK,
    *,
    user_id: int = USER,
    billing: FakeBilling | None = None,
    recurring: bool = False,
    first: bool = False,
    expires: datetime | None = None,
) -> purchases.Receipt:
    stars.paid(charge, user_id, item.stars)
    receipt = await purchases.record_successful_payment(
        session,
        CATALOGUE,
        user_id=user_id,
        charge_id=charge,
        payload=item.payload,
        currency="XTR",
        total_amount=item.stars,
        is_recurring=recurring,
        is_first_recurring=first,
        subscription_expiration=expires,
        billing=billing,
    )
    await session.commit()
    return receipt


async def _report(session: AsyncSession, stars: FakeStars) -> list[reconcile.Issue]:
    return (await reconcile.reconcile(session, stars)).issues


# -- payments ---------------------------------------------------------------------------------


async def test_pack_subscription_and_renewal_are_credited_and_logged(
    session: AsyncSession,
) -> None:
    await _user(session)
    stars, billing = FakeStars(), FakeBilling()
    first = await _pay(session, stars, "c1", billing=billing)
    assert (first.kind, first.credits, first.balance, first.duplicate) == (
        PaymentKind.PACK,
        500,
        500,
        False,
    )
    period_end = datetime(2030, 1, 1, tzinfo=UTC)
    sub = await _pay(
        session, stars, "s1", PLAN, billing=billing, recurring=True, first=True, expires=period_end
    )
    assert (sub.kind, sub.balance, sub.expires_at) == (PaymentKind.SUBSCRIPTION, 3500, period_end)
    renewal = await _pay(
        session,
        stars,
        "s2",
        PLAN,
        billing=billing,
        recurring=True,
        expires=period_end + timedelta(days=30),
    )
    assert (renewal.kind, renewal.balance) == (PaymentKind.RENEWAL, 6500)
    row = await purchases.subscription_of(session, USER, "monthly")
    assert row is not None
    assert (row.charge_id, row.expires_at) == ("s1", period_end + timedelta(days=30))
    kinds = await session.execute(
        select(CreditMovement.kind, CreditMovement.ref).order_by(CreditMovement.id)
    )
    assert kinds.all() == [
        (MovementKind.PURCHASE, "c1"),
        (MovementKind.PURCHASE, "s1"),
        (MovementKind.RENEWAL, "s2"),
    ]
    assert [(e[1], e[2]["charge_id"]) for e in billing.events] == [
        (BillingEvent.PAYMENT, "c1"),
        (BillingEvent.PAYMENT, "s1"),
        (BillingEvent.RENEWAL, "s2"),
    ]
    assert await _report(session, stars) == []


async def test_a_duplicate_changes_nothing_and_a_failing_log_changes_nothing(
    session: AsyncSession,
) -> None:
    await _user(session)
    stars = FakeStars()
    await _pay(session, stars, "c1", billing=FakeBilling(fail=True))
    again = await _pay(session, stars, "c1", billing=FakeBilling())
    assert again.duplicate
    assert await ledger.balance(session, USER) == 500
    assert await _report(session, stars) == []


async def test_a_payload_we_cannot_read_is_recorded_flagged_and_credits_nothing(
    session: AsyncSession,
) -> None:
    await _user(session)
    stars = FakeStars()
    stars.paid("odd", USER, 70)
    receipt = await purchases.record_successful_payment(
        session,
        CATALOGUE,
        user_id=USER,
        charge_id="odd",
        payload="something-else",
        currency="XTR",
        total_amount=70,
    )
    await session.commit()
    assert (receipt.flag, receipt.credits, receipt.duplicate) == (ChargeFlag.PAYLOAD, 0, False)
    assert await ledger.balance(session, USER) == 0
    issues = await _report(session, stars)
    assert [(i.kind, i.ref) for i in issues] == [(reconcile.IssueKind.FLAGGED, "odd")]


async def test_pre_checkout_checks(session: AsyncSession) -> None:
    await _user(session)
    catalogue = Catalogue(PaymentsSettings())
    user = await session.get(User, USER)
    assert user is not None
    small = catalogue.pack("small")
    assert small is not None

    async def check(payload: str, amount: int, *, enabled: bool = True) -> object:
        return await purchases.check_pre_checkout(
            session,
            catalogue,
            user,
            payload=payload,
            currency="XTR",
            total_amount=amount,
            enabled=enabled,
        )

    assert await check(small.payload, small.stars) is None
    assert await check(small.payload, small.stars + 1) is purchases.CheckoutRefusal.STALE
    assert await check("junk", 1) is purchases.CheckoutRefusal.UNKNOWN_ITEM
    assert await check(small.payload, small.stars, enabled=False) is (
        purchases.CheckoutRefusal.DISABLED
    )
    user.status = user.status.BANNED
    assert await check(small.payload, small.stars) is purchases.CheckoutRefusal.BANNED


# -- refunds ----------------------------------------------------------------------------------


async def test_telegram_refusing_a_refund_changes_nothing(session: AsyncSession) -> None:
    await _user(session)
    stars = FakeStars(refuse_refund="CHARGE_NOT_FOUND")
    await _pay(session, stars, "c1")
    with pytest.raises(RefundRefused) as refused:
        await refunds.refund(session, stars, "c1")
    assert refused.value.reason is RefundRefusal.TELEGRAM_REFUSED
    await session.commit()
    payment = await history.by_charge_id(session, "c1")
    assert payment is not None
    assert payment.status is PaymentStatus.PAID
    assert await ledger.balance(session, USER) == 500


async def test_already_refunded_at_telegram_is_recorded(session: AsyncSession) -> None:
    await _user(session)
    stars = FakeStars()
    await _pay(session, stars, "c1")
    stars.refunded.append("c1")  # refunded by Telegram's support; its message got lost
    assert [i.kind for i in await _report(session, stars)] == [
        reconcile.IssueKind.REFUND_UNRECORDED
    ]
    outcome = await refunds.refund(session, stars, "c1")
    await session.commit()
    assert (outcome.credits_reversed, outcome.balance) == (500, 0)
    assert await _report(session, stars) == []


async def test_an_interrupted_refund_is_completed_by_refunded_payment(
    session: AsyncSession,
) -> None:
    await _user(session)
    stars = FakeStars()
    await _pay(session, stars, "c1")
    # Telegram refunded it, and the process died before the refund's commit.
    await stars.refund_star_payment(user_id=USER, telegram_payment_charge_id="c1")
    assert [i.kind for i in await _report(session, stars)] == [
        reconcile.IssueKind.REFUND_UNRECORDED
    ]
    outcome = await refunds.record_telegram_refund(session, user_id=USER, charge_id="c1")
    await session.commit()
    assert outcome is not None
    assert outcome.changed
    assert outcome.source is RefundSource.TELEGRAM
    again = await refunds.record_telegram_refund(session, user_id=USER, charge_id="c1")
    assert again is not None
    assert not again.changed
    assert await ledger.balance(session, USER) == 0
    assert await _report(session, stars) == []


async def test_user_refund_window_and_flag(session: AsyncSession) -> None:
    await _user(session)
    stars = FakeStars()
    await _pay(session, stars, "c1")
    payment = await history.by_charge_id(session, "c1")
    assert payment is not None
    await session.execute(
        update(Payment)
        .where(Payment.id == payment.id)
        .values(created_at=datetime.now(UTC) - timedelta(hours=49))
    )
    await session.commit()
    settings = PaymentsSettings(auto_refund_hours=48)
    with pytest.raises(RefundRefused) as refused:
        await refunds.request_refund(session, stars, settings, payment_id=payment.id, user_id=USER)
    assert refused.value.reason is RefundRefusal.WINDOW_PASSED
    await session.commit()
    flagged = await history.recent_payments(session, refund_requested=True)
    assert [p.charge_id for p in flagged] == ["c1"]
    with pytest.raises(RefundRefused) as other:
        await refunds.request_refund(
            session, stars, settings, payment_id=payment.id, user_id=USER + 1
        )
    assert other.value.reason is RefundRefusal.NOT_FOUND
    assert stars.refund_calls == []


async def test_refunding_a_subscription_payment_ends_its_period(session: AsyncSession) -> None:
    await _user(session)
    stars = FakeStars()
    await _pay(
        session,
        stars,
        "s1",
        PLAN,
        recurring=True,
        first=True,
        expires=datetime.now(UTC) + timedelta(days=30),
    )
    stars.refuse_edit = True  # stopping the renewal is best effort ...
    await refunds.refund(session, stars, "s1")
    await session.commit()
    assert await subscriptions.current_subscription(session, USER, "monthly") is None
    stars.refuse_edit = False  # ... and asked for each time
    await _pay(
        session,
        stars,
        "s2",
        PLAN,
        recurring=True,
        first=True,
        expires=datetime.now(UTC) + timedelta(days=30),
    )
    await _pay(
        session, stars, "s3", PLAN, recurring=True, expires=datetime.now(UTC) + timedelta(days=60)
    )
    await refunds.refund(session, stars, "s2")  # an earlier period: the current one stays
    assert stars.edits == []
    assert await subscriptions.current_subscription(session, USER, "monthly") is not None
    await refunds.refund(session, stars, "s3")
    await session.commit()
    assert stars.edits == [("s2", True)]
    assert await subscriptions.current_subscription(session, USER, "monthly") is None
    assert await ledger.balance(session, USER) == 0
    assert await _report(session, stars) == []
    with pytest.raises(NoSubscription):
        await subscriptions.set_renewal(
            session, stars, user_id=USER, plan_id="monthly", enabled=False
        )


# -- subscriptions ----------------------------------------------------------------------------


async def test_renewal_switch_and_telegram_reports(session: AsyncSession) -> None:
    await _user(session)
    stars, billing = FakeStars(), FakeBilling()
    await _pay(
        session,
        stars,
        "s1",
        PLAN,
        recurring=True,
        first=True,
        expires=datetime.now(UTC) + timedelta(days=30),
    )
    sub = await subscriptions.set_renewal(
        session, stars, user_id=USER, plan_id="monthly", enabled=False, billing=billing
    )
    assert sub.state is SubscriptionState.CANCELED
    assert stars.edits == [("s1", True)]
    stars.refuse_edit = True
    with pytest.raises(SubscriptionEditFailed):
        await subscriptions.set_renewal(
            session, stars, user_id=USER, plan_id="monthly", enabled=True
        )
    assert sub.state is SubscriptionState.CANCELED
    for state, expected in (
        ("active", SubscriptionState.ACTIVE),
        ("failed", SubscriptionState.FAILED),
        ("canceled", SubscriptionState.CANCELED),
    ):
        got = await subscriptions.apply_subscription_update(
            session, user_id=USER, invoice_payload=PLAN.payload, state=state, billing=billing
        )
        assert got is not None
        assert got.state is expected
    assert (
        await subscriptions.apply_subscription_update(
            session, user_id=USER, invoice_payload=PACK.payload, state="active"
        )
        is None
    )
    assert [e[2]["state"] for e in billing.events if e[1] is BillingEvent.SUBSCRIPTION] == [
        "canceled",
        "active",
        "failed",
        "canceled",
    ]


# -- reconciliation ---------------------------------------------------------------------------


async def test_reconciliation_finds_each_kind_of_disagreement(session: AsyncSession) -> None:
    await _user(session)
    stars = FakeStars()
    await _pay(session, stars, "c1")
    await _pay(session, stars, "c2")
    stars.incoming["c2"] = (USER, 49)  # Telegram says another amount
    del stars.incoming["c1"]  # ... and does not know c1
    await session.execute(update(User).where(User.id == USER).values(credits=999))
    await ledger.apply_movement(session, USER, 5, MovementKind.PURCHASE, ref="nowhere")
    await session.commit()
    kinds = sorted(i.kind.value for i in await _report(session, stars))
    assert kinds == sorted(
        [
            reconcile.IssueKind.BALANCE.value,
            reconcile.IssueKind.AMOUNT_MISMATCH.value,
            reconcile.IssueKind.UNKNOWN_AT_TELEGRAM.value,
            reconcile.IssueKind.ORPHAN_MOVEMENT.value,
        ]
    )


# -- concurrency (PostgreSQL) -----------------------------------------------------------------


async def test_concurrent_refunds_call_telegram_once(pg_url: str) -> None:
    engine: AsyncEngine = create_engine(pg_url)
    sessionmaker = create_sessionmaker(engine)
    stars = FakeStars(gate=asyncio.Event())
    try:
        async with sessionmaker() as session:
            await _user(session)
            await _pay(session, stars, "c1")

        async def attempt() -> RefundRefusal | None:
            async with sessionmaker() as session:
                try:
                    await refunds.refund(session, stars, "c1")
                except RefundRefused as exc:
                    return exc.reason
                await session.commit()
                return None

        tasks = [asyncio.create_task(attempt()) for _ in range(5)]
        await stars.called.wait()  # the first attempt holds the claim...
        assert stars.gate is not None
        stars.gate.set()  # ... and Telegram answers it only now
        results = await asyncio.gather(*tasks)
        assert sorted(results, key=str) == [None] + [RefundRefusal.ALREADY_REFUNDED] * 4
        assert stars.refund_calls == ["c1"]
        async with sessionmaker() as session:
            assert await ledger.balance(session, USER) == 0
            assert await _report(session, stars) == []
    finally:
        await engine.dispose()


async def test_the_reconciliation_job_logs_disagreements(
    session: AsyncSession, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    from services.payments.jobs import reconcile_tick

    await _user(session)
    stars = FakeStars()
    await _pay(session, stars, "c1")
    sessionmaker = create_sessionmaker(engine)
    assert (await reconcile_tick(sessionmaker, stars)).ok
    stars.incoming["ghost"] = (USER, 10)
    with caplog.at_level("WARNING", logger="services.payments.jobs"):
        report = await reconcile_tick(sessionmaker, stars)
    assert not report.ok
    assert "unknown-at-us ghost" in caplog.text


async def test_a_charge_recorded_but_never_credited_is_credited_by_the_frequent_job(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    """The handler died between its two steps and nothing ran it again: the job credits it
    (once the handler's own retries are over), exactly once, and tells the user."""
    from services.payments.jobs import PENDING_GRACE, credit_pending_tick

    await _user(session)
    for charge in ("old", "fresh"):
        await purchases.record_charge(
            session,
            CATALOGUE,
            user_id=USER,
            charge_id=charge,
            payload=PACK.payload,
            currency="XTR",
            total_amount=50,
        )
    await session.execute(
        update(Payment)
        .where(Payment.charge_id == "old")
        .values(created_at=datetime.now(UTC) - PENDING_GRACE - timedelta(minutes=1))
    )
    await session.commit()
    told: list[tuple[int, str, dict[str, object]]] = []

    async def notify(user_id: int, key: str, **args: object) -> bool:
        told.append((user_id, key, args))
        return True

    sessionmaker = create_sessionmaker(engine)
    assert await credit_pending_tick(sessionmaker, notify=notify) == 1
    assert await credit_pending_tick(sessionmaker, notify=notify) == 0
    assert told == [(USER, "pay-credited-late", {"stars": 50, "credits": 500, "balance": 500})]
    async with sessionmaker() as fresh:
        assert await ledger.balance(fresh, USER) == 500
        rows = {p.charge_id: p for p in await fresh.scalars(select(Payment))}
    assert rows["old"].credited_at is not None
    assert rows["fresh"].credited_at is None  # the handler may still be on it
