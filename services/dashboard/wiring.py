"""The dashboard's runtime sources, assembled once in `bot/app.py` from the scheduler, the AI
providers and the health probe (the figures module itself knows none of them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from bot.scheduler import Scheduler
from services.ai.providers.registry import ProviderStatus
from services.dashboard.figures import JobFigure, ProviderFigure, Sources


def build_sources(
    health: Callable[[], Awaitable[Mapping[str, str]]],
    *,
    scheduler: Scheduler,
    providers: Callable[[], Sequence[ProviderStatus]] | None,
) -> Sources:
    def jobs() -> list[JobFigure]:
        return [
            JobFigure(
                name=s.name,
                every_seconds=s.every.total_seconds(),
                runs=s.runs,
                failures=s.failures,
                last_started=s.last_started,
                last_ok=s.last_ok,
                # "TypeName: first line" (bot/scheduler.py); the message is left out.
                last_error_type=s.last_error.split(":", 1)[0] if s.last_error else None,
                next_run=s.next_run,
            )
            for s in scheduler.status()
        ]

    def provider_figures() -> list[ProviderFigure]:
        assert providers is not None
        return [
            ProviderFigure(
                name=p.provider.value,
                configured=p.configured,
                state=p.state.value,
                requests=p.requests,
                failures=p.failures,
                consecutive_failures=p.consecutive_failures,
            )
            for p in providers()
        ]

    return Sources(
        health=health, jobs=jobs, providers=provider_figures if providers is not None else None
    )
