"""The method registry: every Bot API method the emulator implements is one decorated function.

Add a method in a ``methods_<area>.py`` module of this package (modules named ``methods_*`` are
imported automatically)::

    from .registry import Call, registry

    @registry.method("sendInvoice")
    async def send_invoice(call: Call) -> dict[str, Any]:
        chat = call.emu.require_chat(call.chat_ref())
        ...
        return message.data

Parameters reach the handler already checked against the official schema and coerced to
Python types; raise :class:`~tests.emulator.errors.TelegramError` (``bad_request(...)``) for
Telegram's own rules. The return value becomes ``result``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import bad_request
from .schema import UploadedFile

if TYPE_CHECKING:
    from .server import BotAPIEmulator


@dataclass
class Call:
    """One API call as a handler sees it."""

    emu: BotAPIEmulator
    method: str
    params: dict[str, Any]

    def has(self, name: str) -> bool:
        return name in self.params

    def get_int(self, name: str) -> int:
        value = self.params[name]
        if not isinstance(value, int):
            raise bad_request(f'parameter "{name}" must be an Integer')
        return value

    def opt_int(self, name: str) -> int | None:
        return self.get_int(name) if name in self.params else None

    def get_str(self, name: str) -> str:
        value = self.params[name]
        if not isinstance(value, str):
            raise bad_request(f'parameter "{name}" must be a String')
        return value

    def opt_str(self, name: str) -> str | None:
        return self.get_str(name) if name in self.params else None

    def flag(self, name: str, default: bool = False) -> bool:
        return bool(self.params.get(name, default))

    def get_obj(self, name: str) -> dict[str, Any] | None:
        value = self.params.get(name)
        return value if isinstance(value, dict) else None

    def get_list(self, name: str) -> list[Any] | None:
        value = self.params.get(name)
        return value if isinstance(value, list) else None

    def get_file(self, name: str) -> UploadedFile | str | None:
        value = self.params.get(name)
        return value if isinstance(value, UploadedFile | str) else None

    def chat_ref(self, name: str = "chat_id") -> int | str:
        value = self.params[name]
        if not isinstance(value, int | str):
            raise bad_request("chat not found")
        return value


Handler = Callable[[Call], Awaitable[Any]]


class MethodRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def method(self, name: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if name in self._handlers:
                raise ValueError(f"{name} is registered twice")
            self._handlers[name] = handler
            return handler

        return register

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def override(self, name: str, handler: Handler) -> None:
        """Replace a handler (for a test that needs Telegram to misbehave in a special way)."""
        self._handlers[name] = handler

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def copy(self) -> MethodRegistry:
        clone = MethodRegistry()
        clone._handlers = dict(self._handlers)
        return clone


registry = MethodRegistry()
