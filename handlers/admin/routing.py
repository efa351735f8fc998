"""How the admin handlers are routed: each declared next to its function, by its button, its
confirmation kind or its prompt state.

A module-level aiogram router could not be used: a router belongs to one parent only, and the
tests build several applications in one process. So each flow collects its routes in a `Routes`,
and its `setup()` builds a fresh `Router` from them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery

from bot.db.models import User
from handlers.admin.panel import Panel
from keyboards.admin import AdminAction, AdminCD, Confirm

# Marks the handlers that answer a prompt: a former operator's reply ends the prompt (gate.py).
PROMPT_FLAG = "admin_prompt"
# A prompt takes the operator's next message, except a command: that goes to its own handler.
NOT_A_COMMAND = ~F.text.startswith("/")

H = TypeVar("H", bound=Callable[..., Awaitable[None]])


@dataclass(frozen=True)
class _Route:
    event: str  # the router's observer: "callback_query" or "message"
    handler: Callable[..., Awaitable[None]]
    filters: tuple[Any, ...]
    flags: dict[str, Any] | None = None


@dataclass
class Routes:
    name: str
    _routes: list[_Route] = field(default_factory=list)

    def button(self, action: AdminAction) -> Callable[[H], H]:
        return self._add("callback_query", AdminCD.filter(F.action == action))

    def confirmation(self, kind: Confirm) -> Callable[[H], H]:
        """A confirm button of this kind; the gate hands the handler its step as `pending`."""
        pressed = (F.action == AdminAction.CONFIRM) & (F.arg == kind)
        return self._add("callback_query", AdminCD.filter(pressed))

    def screen(self, action: AdminAction, show: Callable[[Panel], Awaitable[None]]) -> None:
        """A button that only shows a screen of the panel."""

        # `user` is declared so that the session middleware loads the row the gate checks.
        async def press(query: CallbackQuery, user: User, panel: Panel) -> None:
            await show(panel)

        press.__name__ = press.__qualname__ = f"show_{action.name.lower()}"
        self.button(action)(press)

    def prompt(self, state: State) -> Callable[[H], H]:
        return self._add("message", StateFilter(state), NOT_A_COMMAND, flags={PROMPT_FLAG: True})

    def command(self, *filters: Any) -> Callable[[H], H]:
        return self._add("message", *filters)

    def router(self) -> Router:
        router = Router(name=self.name)
        for r in self._routes:
            router.observers[r.event].register(r.handler, *r.filters, flags=r.flags)
        return router

    def _add(
        self, event: str, *filters: Any, flags: dict[str, Any] | None = None
    ) -> Callable[[H], H]:
        def add(handler: H) -> H:
            self._routes.append(_Route(event, handler, filters, flags))
            return handler

        return add
