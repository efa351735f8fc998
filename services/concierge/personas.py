"""Personas staff answer as: made, listed, switched on and off (each change committed here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.concierge import ConciergePersona

MAX_NAME = 64
MAX_BIO = 800
MAX_ATTRIBUTES = 400


class PersonaInvalid(ValueError):
    """A field staff typed does not fit (``field`` names it: name, bio, attributes, price)."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass(frozen=True, slots=True)
class PersonaSpec:
    name: str
    bio: str
    attributes: str
    price: int
    avatar_file_id: str | None = None


def clean_text(field: str, value: str, limit: int, *, required: bool = True) -> str:
    text = value.strip()
    if (required and not text) or len(text) > limit:
        raise PersonaInvalid(field)
    return text


def parse_price(value: str, max_price: int) -> int:
    raw = value.strip()
    if not raw.isdigit() or int(raw) > max_price:
        raise PersonaInvalid("price")
    return int(raw)


async def create(session: AsyncSession, spec: PersonaSpec) -> ConciergePersona:
    persona = ConciergePersona(
        name=clean_text("name", spec.name, MAX_NAME),
        bio=clean_text("bio", spec.bio, MAX_BIO),
        attributes=clean_text("attributes", spec.attributes, MAX_ATTRIBUTES, required=False),
        price=spec.price,
        avatar_file_id=spec.avatar_file_id,
        active=True,
    )
    session.add(persona)
    await session.commit()
    return persona


async def toggle(session: AsyncSession, persona_id: int) -> ConciergePersona | None:
    """Switch a persona on or off (committed); None when it no longer exists."""
    persona = await session.get(ConciergePersona, persona_id)
    if persona is None:
        return None
    persona.active = not persona.active
    await session.commit()
    return persona


async def listing(session: AsyncSession, *, active_only: bool) -> Sequence[ConciergePersona]:
    query = select(ConciergePersona).order_by(ConciergePersona.id)
    if active_only:
        query = query.where(ConciergePersona.active.is_(True))
    return (await session.scalars(query)).all()


async def get(session: AsyncSession, persona_id: int) -> ConciergePersona | None:
    return await session.get(ConciergePersona, persona_id)
