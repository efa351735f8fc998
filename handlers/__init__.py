"""Routers, one per feature, assembled in the order they must see updates.

Each feature module exposes `setup() -> Router`, building a fresh router (a router can belong to
one parent only, and tests build several applications in one process). Private-chat features hang
under `private`, group features under `groups`; `fallback` goes last so that it answers only what
nobody else took.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatType

from handlers import (
    admin,
    chat,
    concierge,
    fallback,
    group_commands,
    group_panel,
    models,
    onboarding,
    payments,
    retention,
    rooms,
    serverkey,
    start,
)
from middlewares.filters import InChat


def get_routers() -> list[Router]:
    private = Router(name="private")
    # Async filters: aiogram runs a sync (magic) filter in a worker thread, per update.
    private.message.filter(InChat(ChatType.PRIVATE))
    private.include_routers(
        # first: a secret key is deleted whatever else the message could be
        onboarding.setup_secret_guard(),
        # before /start: the deep link start=p_<id> opens a concierge session
        concierge.setup_start(),
        start.setup(),
        # before chat-like text handlers: its prompts take the operator's replies
        admin.setup(),
        payments.setup(),
        # before chat: a pasted key or a shared group is for onboarding, not the AI
        onboarding.setup(),
        serverkey.setup(),
        retention.setup(),
        models.setup(),
        # before chat: in a concierge session a message goes to the persona, not the AI
        concierge.setup_private(),
        # last: any other text is a question for the AI
        chat.setup(),
    )

    groups = Router(name="groups")
    groups.message.filter(InChat(ChatType.GROUP, ChatType.SUPERGROUP))
    groups.include_routers(
        # the staff desk's topics (only in the linked desk)
        concierge.setup_desk(),
        # first: it sees the bot's arrival before the log group's handler, and takes a room's
        # questions before the plain AI chat (it steps aside in groups without a room)
        rooms.setup(),
        group_panel.setup(),
        models.setup_group(),
        # answers only when the bot is mentioned or replied to
        chat.setup_group(),
        # last: commands nobody above took (/help, the private-chat ones, unknown /x@bot)
        group_commands.setup(),
    )

    # Updates that are not chat messages (payments, membership changes) route by their own filters.
    anywhere = Router(name="anywhere")
    anywhere.include_routers(rooms.setup_anywhere(), chat.setup_anywhere())

    return [private, groups, anywhere, fallback.setup()]
