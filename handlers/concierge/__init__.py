"""Concierge handlers, one router per flow: the user's side (`user`), staff and operators in
private (`staff`), and the staff desk forum (`desk`). Flows live in services/concierge."""

from __future__ import annotations

from aiogram import Router

from handlers.concierge import desk, staff, user


def setup_start() -> Router:
    """The deep link ``/start p_<id>``: before /start itself."""
    return user.setup_start()


def setup_private() -> Router:
    router = Router(name="concierge-private")
    # staff prompts first: their answers are not messages to a persona
    router.include_routers(staff.setup(), user.setup())
    return router


def setup_desk() -> Router:
    return desk.setup()
