"""One-time state of linking a group: the single-use startgroup token, and the short window in
which the next public key a user sends replaces their key (a rotation)."""

from __future__ import annotations

import secrets

from bot.state import KeyValueState
from services.logserver.config import LogServerSettings

TOKEN_PREFIX = "ls:tok:"
ROTATE_PREFIX = "ls:rotate:"


class LinkTokens:
    """Part of `LogServerService` (needs `kv` and `settings`)."""

    kv: KeyValueState
    settings: LogServerSettings

    async def issue_token(self, user_id: int) -> str:
        """A single-use startgroup token for `user_id`, valid for `token_ttl_seconds`."""
        token = secrets.token_urlsafe(16)
        await self.kv.put(TOKEN_PREFIX + token, str(user_id), self.settings.token_ttl_seconds)
        return token

    async def redeem_token(self, token: str) -> int | None:
        """The user the token was issued to, once; None when unknown, used or expired."""
        if not token or len(token) > 64:
            return None
        value = await self.kv.take(TOKEN_PREFIX + token)
        return int(value) if value is not None else None

    async def expect_key(self, user_id: int) -> None:
        """The next public key `user_id` sends replaces their key (rotation), for 10 minutes."""
        await self.kv.put(ROTATE_PREFIX + str(user_id), "1", self.settings.token_ttl_seconds)

    async def rotating(self, user_id: int) -> bool:
        """Whether `expect_key` is in force for `user_id`."""
        return await self.kv.get(ROTATE_PREFIX + str(user_id)) is not None

    async def end_rotation(self, user_id: int) -> None:
        await self.kv.delete(ROTATE_PREFIX + str(user_id))
