"""Setting up the personal log server in private chat, one module per flow:

- ``link``: /logserver, the group picker (`chat_shared`), binding after a passing check;
- ``key``: the key prompt (with the Mini App that makes a key on the user's device), a pasted
  public key, linking a key (also used by the Mini App's keygen route, bot/webapp/routes);
- ``secret``: the guard that deletes a secret key sent at any time, in any form;
- ``status``: the private status panel (check again, change key, disconnect);
- ``finish``: topics, the pinned panel and the setup record; ``render``: shared texts.
"""

from __future__ import annotations

from aiogram import Router

from handlers.onboarding import key, link, secret, status
from handlers.onboarding.finish import finish_setup, panel_editor, refresh_panel
from handlers.onboarding.key import accept_key
from handlers.onboarding.link import bind_and_continue
from handlers.onboarding.render import panel_text, render_report

__all__ = [
    "accept_key",
    "bind_and_continue",
    "finish_setup",
    "panel_editor",
    "panel_text",
    "refresh_panel",
    "render_report",
    "setup",
    "setup_secret_guard",
]


def setup() -> Router:
    router = Router(name="onboarding")
    router.include_routers(link.setup(), key.setup(), status.setup())
    return router


def setup_secret_guard() -> Router:
    """Goes first among the private-chat routers (see handlers/__init__.py)."""
    return secret.setup()
