"""The room's own limits: a daily budget for the whole room, a cap per member, the Guests'
quota. Credits themselves move only through the AI meter (``services.ai.metering``, which
uses ``services.ledger``); this book only holds and counts what answers in the room may spend.

An answer first *holds* room credits (the cost of a minimal reply, up to a full one, never more
than the budget and the cap leave), in one short transaction under a lock of the room's row, so
that five members asking at once cannot overshoot the budget together. When the answer ends the
hold becomes its real cost, or is given back (failure, refusal): nothing is counted then.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models.rooms import Room, RoomSpend

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class Limit(enum.StrEnum):
    ROOM_BUDGET = "room-budget"
    MEMBER_CAP = "member-cap"
    GUEST_QUOTA = "guest-quota"


class LimitReached(Exception):
    def __init__(self, limit: Limit, allowed: int, used: int) -> None:
        super().__init__(f"{limit}: {used} of {allowed}")
        self.limit = limit
        self.allowed = allowed
        self.used = used


@dataclass(frozen=True, slots=True)
class Hold:
    room_id: int
    user_id: int
    day: date
    amount: int
    """Room credits held (0 when the answer costs the room nothing: own key, free model)."""


@dataclass(frozen=True, slots=True)
class SpendLine:
    user_id: int
    replies: int
    cost: int


class SpendBook:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, clock: Clock = _now
    ) -> None:
        self.sessionmaker = sessionmaker
        self._clock = clock

    def today(self) -> date:
        return self._clock().date()

    async def hold(
        self,
        room_id: int,
        user_id: int,
        *,
        minimal: int,
        full: int,
        guest: bool,
        counts: bool,
    ) -> Hold:
        """Hold up to ``full`` credits of the room for one answer; raise ``LimitReached`` (and
        hold nothing) when the budget, the cap or the Guest's quota cannot take even ``minimal``."""
        day = self.today()
        async with self.sessionmaker() as session:
            room = await session.scalar(select(Room).where(Room.id == room_id).with_for_update())
            if room is None:
                raise LimitReached(Limit.ROOM_BUDGET, 0, 0)
            await self._ensure_row(session, room_id, user_id, day)
            mine = await session.scalar(
                select(RoomSpend).where(
                    RoomSpend.room_id == room_id,
                    RoomSpend.day == day,
                    RoomSpend.user_id == user_id,
                )
            )
            assert mine is not None
            if guest and mine.replies >= room.guest_quota:
                raise LimitReached(Limit.GUEST_QUOTA, room.guest_quota, mine.replies)
            amount = 0
            if counts:
                amount = full
                if room.daily_budget > 0:
                    spent = await session.scalar(
                        select(
                            func.coalesce(func.sum(RoomSpend.cost + RoomSpend.reserved), 0)
                        ).where(RoomSpend.room_id == room_id, RoomSpend.day == day)
                    )
                    left = room.daily_budget - int(spent or 0)
                    if left < minimal:
                        raise LimitReached(Limit.ROOM_BUDGET, room.daily_budget, int(spent or 0))
                    amount = min(amount, left)
                if room.member_cap > 0:
                    used = mine.cost + mine.reserved
                    left = room.member_cap - used
                    if left < minimal:
                        raise LimitReached(Limit.MEMBER_CAP, room.member_cap, used)
                    amount = min(amount, left)
            mine.replies += 1
            mine.reserved += amount
            await session.commit()
        return Hold(room_id, user_id, day, amount)

    async def settle(self, hold: Hold, cost: int) -> None:
        async with self.sessionmaker() as session:
            await session.execute(
                update(RoomSpend)
                .where(
                    RoomSpend.room_id == hold.room_id,
                    RoomSpend.day == hold.day,
                    RoomSpend.user_id == hold.user_id,
                )
                .values(reserved=RoomSpend.reserved - hold.amount, cost=RoomSpend.cost + cost)
            )
            await session.commit()

    async def release(self, hold: Hold) -> None:
        """Nothing happened: the hold and the question are given back."""
        async with self.sessionmaker() as session:
            await session.execute(
                update(RoomSpend)
                .where(
                    RoomSpend.room_id == hold.room_id,
                    RoomSpend.day == hold.day,
                    RoomSpend.user_id == hold.user_id,
                )
                .values(reserved=RoomSpend.reserved - hold.amount, replies=RoomSpend.replies - 1)
            )
            await session.commit()

    async def lines(self, session: AsyncSession, room_id: int) -> list[SpendLine]:
        """Today's questions and credits per member, the biggest spender first."""
        rows = await session.execute(
            select(RoomSpend.user_id, RoomSpend.replies, RoomSpend.cost).where(
                RoomSpend.room_id == room_id, RoomSpend.day == self.today()
            )
        )
        lines = [SpendLine(uid, replies, cost) for uid, replies, cost in rows.all() if replies]
        return sorted(lines, key=lambda line: (-line.cost, -line.replies, line.user_id))

    async def _ensure_row(
        self, session: AsyncSession, room_id: int, user_id: int, day: date
    ) -> None:
        values = {
            "room_id": room_id,
            "day": day,
            "user_id": user_id,
            "replies": 0,
            "cost": 0,
            "reserved": 0,
            # numbers of one day: needed only for that day
            "expires_at": datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC),
        }
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(
                postgresql.insert(RoomSpend).values(**values).on_conflict_do_nothing()
            )
        else:
            await session.execute(
                sqlite.insert(RoomSpend).values(**values).on_conflict_do_nothing()
            )
