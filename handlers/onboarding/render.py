"""Text of the log server's messages and panels, shared by the onboarding flows and the group."""

from __future__ import annotations

import html
from collections.abc import Iterable

from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.logserver import LogServer, LogServerState
from bot.i18n import I18n
from keyboards.logserver import panel_keyboard
from services.crypto.port import format_fingerprint
from services.logserver import LogServerService, RecordKind
from services.logserver.types import CheckReport


def _rights_text(i18n: I18n, rights: Iterable[str]) -> str:
    return ", ".join(i18n(f"logserver-right-{r.replace('_', '-')}") for r in rights)


def render_report(i18n: I18n, report: CheckReport) -> str:
    """Every problem and warning of a check, each with how to fix it."""
    lines: list[str] = []
    for problem in report.problems:
        rights = _rights_text(i18n, report.missing_rights)
        lines.append(i18n(f"logserver-check-{problem.value}", rights=rights))
    for warning in report.warnings:
        extra = _rights_text(i18n, report.extra_rights)
        lines.append(
            i18n(f"logserver-warn-{warning.value}", count=report.other_members, rights=extra)
        )
    return "\n\n".join(lines)


def with_warnings(i18n: I18n, text: str, report: CheckReport) -> str:
    """`text`, followed by the check's warnings (if any) and how to fix them."""
    if report.warnings:
        text += "\n\n" + render_report(i18n, report)
    return text


def topic_names(i18n: I18n) -> dict[RecordKind, str]:
    return {kind: i18n(f"logserver-topic-{kind.value}") for kind in RecordKind}


def panel_text(
    i18n: I18n, server: LogServer, *, head: str | None = None, note: str | None = None
) -> str:
    """The pinned panel; `head` (the signed head, `LogServerService.head_block`) always comes
    last, where readers look for it (docs/reader.md)."""
    state = i18n(f"logserver-state-{server.state.value.replace('_', '-')}")
    fingerprint = format_fingerprint(server.key_fingerprint) if server.key_fingerprint else "—"
    text = i18n("logserver-panel", state=state, fingerprint=fingerprint)
    if note:
        text += "\n\n" + note
    if head:
        text += "\n\n" + i18n("logserver-panel-head") + f"\n<pre>{html.escape(head)}</pre>"
    return text


def server_panel_keyboard(i18n: I18n, server: LogServer) -> InlineKeyboardMarkup:
    return panel_keyboard(i18n, paused=server.state is LogServerState.PAUSED)


async def status_text(
    i18n: I18n, session: AsyncSession, logserver: LogServerService, user_id: int
) -> str | None:
    status = await logserver.status(session, user_id)
    if status is None:
        return None
    names = topic_names(i18n)
    topics = ", ".join(names[k] for k, thread in status.topics.items() if thread is not None) or "—"
    last = (
        status.last_delivery_at.strftime("%Y-%m-%d %H:%M UTC")
        if status.last_delivery_at
        else i18n("logserver-never")
    )
    text = i18n(
        "logserver-status",
        title=status.title,
        state=i18n(f"logserver-state-{status.state.replace('_', '-')}"),
        fingerprint=format_fingerprint(status.fingerprint) if status.fingerprint else "—",
        topics=topics,
        queued=status.queued,
        last=last,
    )
    if status.disconnect_reason:
        text += "\n\n" + i18n(f"logserver-reason-{status.disconnect_reason}")
    return text
