"""Is a user's key still usable? For the daily check (the log server schedules it): expired,
revoked, about to expire, or no longer usable for encryption (e.g. every encryption subkey
expired). Sealing refuses such keys anyway; this lets the bot tell the user in time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from services.crypto.port import KeyErrorKind, KeyImportError, OpenPGPEngine

WARN_BEFORE = timedelta(days=14)


class KeyState(StrEnum):
    VALID = "valid"
    EXPIRING = "expiring"  # valid, but expires within ``warn_before``
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNUSABLE = "unusable"  # e.g. no valid encryption subkey left; ``reason`` says why


@dataclass(frozen=True, slots=True)
class KeyStatus:
    state: KeyState
    fingerprint: str | None = None
    expires: datetime | None = None
    reason: KeyErrorKind | None = None

    @property
    def usable(self) -> bool:
        return self.state in (KeyState.VALID, KeyState.EXPIRING)


def check_user_key(
    engine: OpenPGPEngine,
    armored: str,
    *,
    now: datetime | None = None,
    warn_before: timedelta = WARN_BEFORE,
) -> KeyStatus:
    """The state of ``armored`` at ``now`` (default: the current time). Never raises for a bad
    key: the outcome is in the status."""
    when = now or datetime.now(UTC)
    try:
        info = engine.inspect_public_key(armored, now=when)
    except KeyImportError as exc:
        if exc.kind == KeyErrorKind.EXPIRED:
            return KeyStatus(KeyState.EXPIRED, reason=exc.kind)
        if exc.kind == KeyErrorKind.REVOKED:
            return KeyStatus(KeyState.REVOKED, reason=exc.kind)
        return KeyStatus(KeyState.UNUSABLE, reason=exc.kind)
    if info.expires is not None and info.expires - when <= warn_before:
        return KeyStatus(KeyState.EXPIRING, info.fingerprint, info.expires)
    return KeyStatus(KeyState.VALID, info.fingerprint, info.expires)
