"""Reply templates: saved by staff, sent with one tap, ``{name}`` filled in. Saving and
deleting commit here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.concierge import ConciergeTemplate

PLACEHOLDER = "{name}"
MAX_TITLE = 32
MAX_BODY = 3000


class TemplateInvalid(ValueError):
    pass


async def create(session: AsyncSession, title: str, body: str) -> ConciergeTemplate:
    title, body = title.strip(), body.strip()
    if not title or len(title) > MAX_TITLE or not body or len(body) > MAX_BODY:
        raise TemplateInvalid
    template = ConciergeTemplate(title=title, body=body)
    session.add(template)
    await session.commit()
    return template


async def listing(session: AsyncSession, limit: int | None = None) -> Sequence[ConciergeTemplate]:
    query = select(ConciergeTemplate).order_by(ConciergeTemplate.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return (await session.scalars(query)).all()


async def delete(session: AsyncSession, template_id: int) -> bool:
    template = await session.get(ConciergeTemplate, template_id)
    if template is None:
        return False
    await session.delete(template)
    await session.commit()
    return True


def render(body: str, name: str) -> str:
    """Only ``{name}`` is a placeholder; other braces stay as staff typed them."""
    return body.replace(PLACEHOLDER, name)
