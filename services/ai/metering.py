"""Credits for AI replies: refuse up front, reserve, then settle on the provider's real usage.

Flow for one reply (each step in its own short transaction, committed at once):

1. ``reserve``: the prompt's estimated cost plus ``min_reply_tokens`` of output is the *minimal
   reply*; if neither the free daily allowance nor the balance covers it, the reply is refused
   (``NotEnoughCredits``) before anything is sent to a model. Otherwise up to the cost of a full
   reply (``max_reply_tokens``) is reserved — from today's allowance if it covers the minimal
   reply, else from the balance through the ledger (``RESERVE`` movement, guarded so the balance
   never goes below zero). The model is then asked for at most the output tokens the reservation
   pays for, so a reply can never cost more than was reserved.
2. ``settle``: the reservation is released (``RELEASE``) and the real cost, from the provider's
   own token counts and the catalogue price, is charged (``USAGE``). Each movement names the reply
   id, so a retried settle cannot charge twice. When the reply answers a prompt message, the
   ``USAGE`` movement names the prompt instead (``charge_key``, a keyed hash of chat and message
   id): an update handled again after an instance died between the reply and the update's "done"
   mark may answer again, but its charge is a duplicate movement and nothing is taken twice. A
   reply paid from the free allowance records a zero ``USAGE`` movement under the same key, so
   a second handling gives its allowance back too.
3. ``release`` (provider failure): the reservation goes back; nothing is charged.

Fifty messages at once against a balance for ten therefore reserve at most ten replies; the rest
are refused, and no balance goes negative.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import MovementKind
from bot.db.models.ai import AIAllowance, AIUsage, AIUsageDaily
from services import ledger
from services.ai.catalogue import ModelInfo
from services.ai.config import AISettings
from services.ai.providers.base import Usage
from services.crypto.fields import FieldCipher

log = logging.getLogger(__name__)

USAGE_DETAIL_TTL = timedelta(hours=24)


class Payer(StrEnum):
    CREDITS = "credits"
    ALLOWANCE = "allowance"
    OWN_KEY = "own-key"
    FREE_MODEL = "free-model"


class UsageStatus(StrEnum):
    RESERVED = "reserved"
    SETTLED = "settled"
    RELEASED = "released"


class NotEnoughCredits(Exception):
    def __init__(self, balance: int, needed: int) -> None:
        super().__init__(f"balance {balance} < minimal reply {needed}")
        self.balance = balance
        self.needed = needed


@dataclass(frozen=True, slots=True)
class Reservation:
    ref: str
    user_id: int
    model: ModelInfo
    payer: Payer
    amount: int
    max_output_tokens: int
    prompt_tokens: int
    day: date
    charge_key: str | None = None
    """Names the prompt (see ``prompt_charge_key``): one charge per prompt, however often it
    is handled; None for replies that answer no message of their own (regenerate)."""


@dataclass(frozen=True, slots=True)
class UsageLine:
    model: str
    replies: int
    input_tokens: int
    output_tokens: int
    cost: int


@dataclass(frozen=True, slots=True)
class UsageReport:
    balance: int
    allowance_left: int
    today: UsageLine
    month: UsageLine
    per_model: list[UsageLine]


Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


PURPOSE_PROMPT_CHARGE = "ai-prompt-charge"


def prompt_charge_key(cipher: FieldCipher, chat_id: int, message_id: int) -> str:
    """The ledger ref that makes a prompt chargeable once: keyed, so the ledger (kept for the
    account's life) holds no chat id."""
    return "prompt:" + cipher.lookup_hash(PURPOSE_PROMPT_CHARGE, f"{chat_id}:{message_id}")


def prompt_margin(tokens: int, exact: bool) -> int:
    """Room for estimate error when the count is not the provider's own tokenizer."""
    return tokens if exact else math.ceil(tokens * 1.1) + 16


def output_tokens_for(model: ModelInfo, credits: int, prompt_tokens: int) -> int:
    """How many output tokens ``credits`` pay for after the prompt."""
    if model.output_price == 0:
        return 1 << 30
    left = credits * 1_000_000 - prompt_tokens * model.input_price
    return max(0, left // model.output_price)


class Meter:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: AISettings,
        *,
        clock: Clock = _now,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self._clock = clock

    # -- reserve --------------------------------------------------------------------------
    async def reserve(
        self,
        user_id: int,
        model: ModelInfo,
        prompt_tokens: int,
        *,
        own_key: bool,
        exact_count: bool = False,
        charge_key: str | None = None,
    ) -> Reservation:
        s = self.settings
        now = self._clock()
        today = now.date()
        ref = uuid.uuid4().hex
        prompt_in = prompt_margin(prompt_tokens, exact_count)
        if own_key or model.free:
            payer = Payer.OWN_KEY if own_key else Payer.FREE_MODEL
            reservation = Reservation(
                ref, user_id, model, payer, 0, s.max_reply_tokens, prompt_tokens, today, charge_key
            )
            async with self.sessionmaker() as session:
                self._add_usage(session, reservation, now)
                await session.commit()
            return reservation

        minimal = model.cost(prompt_in, s.min_reply_tokens)
        full = model.cost(prompt_in, s.max_reply_tokens)
        async with self.sessionmaker() as session:
            amount = await self._take_allowance(session, user_id, today, minimal, full, now)
            payer = Payer.ALLOWANCE
            if amount is None:
                payer = Payer.CREDITS
                amount = await self._take_credits(session, user_id, ref, minimal, full)
            max_out = min(s.max_reply_tokens, output_tokens_for(model, amount, prompt_in))
            reservation = Reservation(
                ref, user_id, model, payer, amount, max_out, prompt_tokens, today, charge_key
            )
            self._add_usage(session, reservation, now)
            await session.commit()
        return reservation

    async def _take_allowance(
        self,
        session: AsyncSession,
        user_id: int,
        day: date,
        minimal: int,
        full: int,
        now: datetime,
    ) -> int | None:
        allowance = self.settings.free_daily_credits
        if allowance <= 0:
            return None
        await _insert_ignore(
            session,
            AIAllowance,
            {
                "user_id": user_id,
                "day": day,
                "used": 0,
                "expires_at": datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC),
            },
        )
        used = await session.scalar(
            select(AIAllowance.used).where(AIAllowance.user_id == user_id, AIAllowance.day == day)
        )
        left = allowance - (used or 0)
        if left < minimal:
            return None
        amount = min(full, left)
        result = await session.execute(
            update(AIAllowance)
            .where(
                AIAllowance.user_id == user_id,
                AIAllowance.day == day,
                AIAllowance.used + amount <= allowance,
            )
            .values(used=AIAllowance.used + amount)
            .returning(AIAllowance.used)
        )
        if result.scalar_one_or_none() is None:
            return None  # a concurrent reply took it first: pay with credits
        return amount

    async def _take_credits(
        self, session: AsyncSession, user_id: int, ref: str, minimal: int, full: int
    ) -> int:
        """Reserve up to a full reply from the balance, at least a minimal one: one statement
        on PostgreSQL (``ledger.take_up_to``), so a burst of replies holds no row lock or pooled
        connection across several round trips."""
        try:
            return await ledger.take_up_to(
                session, user_id, minimal, full, MovementKind.RESERVE, ref
            )
        except ledger.InsufficientCredits as exc:
            raise NotEnoughCredits(exc.balance, minimal) from None

    def _add_usage(self, session: AsyncSession, r: Reservation, now: datetime) -> None:
        session.add(
            AIUsage(
                ref=r.ref,
                user_id=r.user_id,
                model=r.model.id,
                provider=r.model.provider.value,
                payer=r.payer.value,
                status=UsageStatus.RESERVED.value,
                reserved=r.amount,
                created_at=now,
                expires_at=now + USAGE_DETAIL_TTL,
            )
        )

    # -- settle / release -----------------------------------------------------------------
    async def settle(self, reservation: Reservation, usage: Usage) -> int:
        """Charge the real cost (0 for own keys and free models); return it."""
        r = reservation
        charged = 0 if r.payer in (Payer.OWN_KEY, Payer.FREE_MODEL) else r.model.cost(*_pair(usage))
        async with self.sessionmaker() as session:
            row = await session.scalar(
                select(AIUsage).where(AIUsage.ref == r.ref).with_for_update()
            )
            if row is None or row.status != UsageStatus.RESERVED.value:
                log.warning("reply %s settled twice; ignored", r.ref)
                return row.cost if row is not None else 0
            if r.payer is Payer.CREDITS:
                await ledger.apply_movement(
                    session, r.user_id, r.amount, MovementKind.RELEASE, r.ref
                )
                if charged:
                    charged = await self._charge(session, r, charged)
            elif r.payer is Payer.ALLOWANCE:
                if r.charge_key is not None and not await self._mark_paid(session, r):
                    charged = 0  # this prompt was paid before: the allowance goes back whole
                # the reservation capped the output, so the real cost rarely differs much;
                # what the estimate missed is absorbed by the allowance
                await session.execute(
                    update(AIAllowance)
                    .where(AIAllowance.user_id == r.user_id, AIAllowance.day == r.day)
                    .values(used=AIAllowance.used + (charged - r.amount))
                )
            row.status = UsageStatus.SETTLED.value
            row.input_tokens = usage.input_tokens
            row.output_tokens = usage.output_tokens
            row.cost = charged
            await self._add_daily(session, r, usage, charged)
            await session.commit()
        return charged

    async def _charge(self, session: AsyncSession, r: Reservation, cost: int) -> int:
        ref = r.charge_key or r.ref
        try:
            try:
                await ledger.apply_movement(session, r.user_id, -cost, MovementKind.USAGE, ref)
            except ledger.InsufficientCredits:
                # Only possible when the estimate was short and other replies spent the rest:
                # take what is there, never more.
                balance = await ledger.balance(session, r.user_id)
                log.warning(
                    "reply %s cost %d, balance %d: charged the balance", r.ref, cost, balance
                )
                if balance > 0:
                    await ledger.apply_movement(
                        session, r.user_id, -balance, MovementKind.USAGE, ref
                    )
                return balance
        except ledger.DuplicateMovement:
            log.warning("reply %s answers a prompt charged before; not charged again", r.ref)
            return 0
        return cost

    async def _mark_paid(self, session: AsyncSession, r: Reservation) -> bool:
        """Record an allowance-paid prompt in the ledger (a zero movement); False if it was."""
        assert r.charge_key is not None
        try:
            await ledger.apply_movement(session, r.user_id, 0, MovementKind.USAGE, r.charge_key)
        except ledger.DuplicateMovement:
            log.warning("reply %s answers a prompt paid before; allowance given back", r.ref)
            return False
        return True

    async def release(self, reservation: Reservation) -> None:
        """Nothing charged: the reservation goes back."""
        r = reservation
        await self._release(r.ref, r.user_id, r.payer, r.amount, r.day)

    async def _release(self, ref: str, user_id: int, payer: Payer, amount: int, day: date) -> None:
        async with self.sessionmaker() as session:
            row = await session.scalar(select(AIUsage).where(AIUsage.ref == ref).with_for_update())
            if row is None or row.status != UsageStatus.RESERVED.value:
                return
            if payer is Payer.CREDITS and amount:
                await ledger.apply_movement(session, user_id, amount, MovementKind.RELEASE, ref)
            elif payer is Payer.ALLOWANCE and amount:
                await session.execute(
                    update(AIAllowance)
                    .where(AIAllowance.user_id == user_id, AIAllowance.day == day)
                    .values(used=AIAllowance.used - amount)
                )
            row.status = UsageStatus.RELEASED.value
            await session.commit()

    async def _add_daily(
        self, session: AsyncSession, r: Reservation, usage: Usage, cost: int
    ) -> None:
        await _insert_ignore(
            session,
            AIUsageDaily,
            {
                "user_id": r.user_id,
                "day": r.day,
                "model": r.model.id,
                "replies": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cost": 0,
            },
        )
        await session.execute(
            update(AIUsageDaily)
            .where(
                AIUsageDaily.user_id == r.user_id,
                AIUsageDaily.day == r.day,
                AIUsageDaily.model == r.model.id,
            )
            .values(
                replies=AIUsageDaily.replies + 1,
                input_tokens=AIUsageDaily.input_tokens + usage.input_tokens,
                output_tokens=AIUsageDaily.output_tokens + usage.output_tokens,
                cost=AIUsageDaily.cost + cost,
            )
        )

    async def release_stale(self, older_than: timedelta = timedelta(minutes=30)) -> int:
        """Give back reservations whose reply never settled (the process died mid-reply)."""
        cutoff = self._clock() - older_than
        async with self.sessionmaker() as session:
            rows = (
                await session.scalars(
                    select(AIUsage).where(
                        AIUsage.status == UsageStatus.RESERVED.value, AIUsage.created_at < cutoff
                    )
                )
            ).all()
            stale = [
                (row.ref, row.user_id, Payer(row.payer), row.reserved, row.created_at.date())
                for row in rows
            ]
        for ref, user_id, payer, amount, day in stale:
            await self._release(ref, user_id, payer, amount, day)
        return len(stale)

    # -- reports --------------------------------------------------------------------------
    async def report(self, session: AsyncSession, user_id: int) -> UsageReport:
        today = self._clock().date()
        first = today.replace(day=1)
        rows = (
            await session.execute(
                select(
                    AIUsageDaily.day,
                    AIUsageDaily.model,
                    AIUsageDaily.replies,
                    AIUsageDaily.input_tokens,
                    AIUsageDaily.output_tokens,
                    AIUsageDaily.cost,
                ).where(AIUsageDaily.user_id == user_id, AIUsageDaily.day >= first)
            )
        ).all()
        per_model: dict[str, list[int]] = {}
        today_sum = [0, 0, 0, 0]
        month_sum = [0, 0, 0, 0]
        for day, model, replies, tin, tout, cost in rows:
            values = (replies, tin, tout, cost)
            acc = per_model.setdefault(model, [0, 0, 0, 0])
            for i, v in enumerate(values):
                acc[i] += v
                month_sum[i] += v
                if day == today:
                    today_sum[i] += v
        used = await session.scalar(
            select(AIAllowance.used).where(AIAllowance.user_id == user_id, AIAllowance.day == today)
        )
        return UsageReport(
            balance=await ledger.balance(session, user_id),
            allowance_left=max(0, self.settings.free_daily_credits - (used or 0)),
            today=UsageLine("", *today_sum),
            month=UsageLine("", *month_sum),
            per_model=sorted(
                (UsageLine(m, *v) for m, v in per_model.items()), key=lambda line: -line.cost
            ),
        )


def _pair(usage: Usage) -> tuple[int, int]:
    return usage.input_tokens, usage.output_tokens


async def _insert_ignore(
    session: AsyncSession, model: type[AIAllowance] | type[AIUsageDaily], values: dict[str, object]
) -> None:
    """INSERT … ON CONFLICT DO NOTHING on PostgreSQL and SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(postgresql.insert(model).values(**values).on_conflict_do_nothing())
    else:
        await session.execute(sqlite.insert(model).values(**values).on_conflict_do_nothing())
