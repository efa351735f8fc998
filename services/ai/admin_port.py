"""What the admin panel shows about AI chat: provider health and today's usage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.ai import AIUsageDaily
from services.admin.ports import AdminPorts, ProviderState, UsageToday
from services.ai.chat import AIService


def attach(ports: AdminPorts, ai: AIService) -> None:
    def provider_status() -> Sequence[ProviderState]:
        return [
            ProviderState(name=s.provider.value, state=s.state.value, configured=s.configured)
            for s in ai.status()
        ]

    async def usage_today(session: AsyncSession, now: datetime) -> UsageToday:
        row = (
            await session.execute(
                select(
                    func.coalesce(func.sum(AIUsageDaily.replies), 0),
                    func.coalesce(
                        func.sum(AIUsageDaily.input_tokens + AIUsageDaily.output_tokens), 0
                    ),
                ).where(AIUsageDaily.day == now.date())
            )
        ).one()
        return UsageToday(messages=int(row[0]), tokens=int(row[1]))

    ports.provider_status = provider_status
    ports.usage_today = usage_today
