"""Concierge rows and the retention rules: /forget takes the user's own sessions (never those a
staff member claimed), and the purge takes a session with its relayed messages once it expired."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db.base import utcnow
from bot.db.engine import create_sessionmaker
from bot.db.models.concierge import (
    ConciergePersona,
    ConciergeRelay,
    ConciergeSession,
    RelayDirection,
    SessionState,
)
from services import users
from services.concierge import sessions
from services.concierge.config import ConciergeSettings
from services.crypto.fields import FieldCipher
from services.retention.forget import forget_user
from services.retention.purge import purge_expired

CIPHER = FieldCipher([bytes(range(32))])
SETTINGS = ConciergeSettings()
USER, STAFF = 5001, 5002


async def _seed(session: AsyncSession) -> ConciergeSession:
    for user_id in (USER, STAFF):
        await users.get_or_create(session, user_id)
    persona = ConciergePersona(name="Mika", bio="Tea.", attributes="", price=1)
    session.add(persona)
    await session.flush()
    row = await sessions.create(session, SETTINGS, USER, persona)
    row.state, row.claimed_by = SessionState.CLAIMED, STAFF
    sessions.set_name(CIPHER, row, "Haru")
    await sessions.add_relay(
        session, CIPHER, SETTINGS, row, RelayDirection.USER, 1, {"kind": "text", "text": "hi"}
    )
    await session.commit()
    return row


async def _count(session: AsyncSession, model: type[object]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_forget_takes_the_users_sessions_not_those_a_staff_member_claimed(
    session: AsyncSession,
) -> None:
    row = await _seed(session)
    await forget_user(session, STAFF)
    await session.commit()
    claimed = await session.execute(
        select(ConciergeSession.id, ConciergeSession.claimed_by).where(
            ConciergeSession.id == row.id
        )
    )
    # The staff member's /forget leaves the user's session (it expires within 24 hours).
    assert claimed.one() == (row.id, STAFF)
    assert await _count(session, ConciergeRelay) == 1

    await forget_user(session, USER)
    await session.commit()
    assert await _count(session, ConciergeSession) == 0
    assert await _count(session, ConciergeRelay) == 0


async def test_the_purge_takes_an_expired_session_with_its_messages(engine: AsyncEngine) -> None:
    maker = create_sessionmaker(engine)
    async with maker() as session:
        await _seed(session)
    report = await purge_expired(maker, now=utcnow() + timedelta(hours=1), batch_size=100)
    assert report.ok
    async with maker() as session:
        assert await _count(session, ConciergeSession) == 1
    report = await purge_expired(maker, now=utcnow() + timedelta(hours=25), batch_size=100)
    assert report.ok
    async with maker() as session:
        assert await _count(session, ConciergeSession) == 0
        assert await _count(session, ConciergeRelay) == 0
