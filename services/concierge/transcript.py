"""A closed session's transcript, written to the user's own log server (Concierge topic).

It goes through the log server's record writer, so it is signed, chained and encrypted to the
user's key like every record; users without a log server get none (nothing else keeps it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models.concierge import ConciergePersona, ConciergeSession, RelayDirection
from services.concierge import sessions
from services.crypto.fields import FieldCipher
from services.logserver import LogServerService, RecordKind, RecordResult


async def body(
    session: AsyncSession, cipher: FieldCipher, row: ConciergeSession, persona: ConciergePersona
) -> dict[str, Any]:
    messages = []
    for relay in await sessions.relays(session, row.id):
        content = sessions.unseal(cipher, relay)
        messages.append(
            {
                "from": "you" if relay.direction is RelayDirection.USER else "persona",
                "kind": content.get("kind", "text"),
                "text": content.get("text", ""),
                "at": relay.created_at.isoformat(timespec="seconds"),
            }
        )
    closed = row.closed_at or utcnow()
    return {
        "event": "concierge-session",
        "persona": persona.name,
        "opened": row.opened_at.isoformat(timespec="seconds"),
        "closed": closed.isoformat(timespec="seconds"),
        "messages": messages,
    }


async def write(
    session: AsyncSession,
    logserver: LogServerService,
    cipher: FieldCipher,
    row: ConciergeSession,
    persona: ConciergePersona,
) -> RecordResult:
    """Queue the transcript in the caller's transaction (call ``logserver.wake.set()`` after
    the commit)."""
    document = await body(session, cipher, row, persona)
    return await logserver.record_in(session, row.user_id, RecordKind.CONCIERGE, document)
