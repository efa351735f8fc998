"""Ports shared by several services: what a service needs from the outside, as small Protocols.

Services never import `bot.*` wiring modules (settings, i18n) or aiogram's `Bot`; they receive
an object with this shape. `bot.i18n.Translator` is the Localiser; Telegram adapters live in
`bot/` and implement the feature ports each service declares next to itself.
"""

from __future__ import annotations

from typing import Any, Protocol


class Localiser(Protocol):
    """Catalogue text in one of the supported locales (`bot.i18n.Translator`)."""

    def resolve_locale(self, *candidates: str | None) -> str:
        """The first supported locale among the candidates, else the default."""
        ...

    def get(self, locale: str, key: str, **args: Any) -> str:
        """The message `key` in `locale`; string arguments are inserted as given."""
        ...
