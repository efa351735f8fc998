"""The admin panel's view of the other features, assembled once in `bot/app.py`.

Each port is filled from the feature that provides it; the panel shows a missing one as a
disabled button with a note.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.state import KeyValueState
from services.admin.ports import AdminPorts, JobInfo


def build_ports(
    *,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    kv: KeyValueState,
    scheduler: Scheduler,
) -> AdminPorts:
    from services.retention.jobs import purge_now

    async def purge() -> int:
        report = await purge_now(sessionmaker, settings, kv)
        if not report.ok:
            raise RuntimeError("purge incomplete: " + ", ".join(report.failed))
        return report.deleted

    def jobs() -> list[JobInfo]:
        return [JobInfo(s.name, s.next_run) for s in scheduler.status()]

    return AdminPorts(purge_now=purge, scheduler_jobs=jobs)
