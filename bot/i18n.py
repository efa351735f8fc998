"""Fluent catalogues under `locales/<locale>/*.ftl`, one file per feature.

Fluent rather than gettext: one file per feature keeps parallel work apart, plurals and
selectors live in the catalogue (Japanese and English differ there), and nothing needs compiling.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fluent.runtime import FluentBundle, FluentResource

from bot.settings import SUPPORTED_LOCALES

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"


class Translator:
    """All catalogues, loaded once at start-up."""

    def __init__(
        self,
        locales_dir: Path = LOCALES_DIR,
        default_locale: str = "ja",
        locales: Iterable[str] = SUPPORTED_LOCALES,
    ) -> None:
        self.default_locale = default_locale
        self.locales = tuple(locales)
        self._bundles: dict[str, FluentBundle] = {}
        for locale in self.locales:
            bundle = FluentBundle([locale], use_isolating=False)
            for path in sorted((locales_dir / locale).glob("*.ftl")):
                bundle.add_resource(FluentResource(path.read_text(encoding="utf-8")))
            self._bundles[locale] = bundle

    def resolve_locale(self, *candidates: str | None) -> str:
        """The first supported locale among the candidates (`en-US` counts as `en`)."""
        for candidate in candidates:
            if not candidate:
                continue
            base = candidate.split("-")[0].lower()
            if base in self._bundles:
                return base
        return self.default_locale

    def has(self, locale: str, key: str) -> bool:
        return self._bundles[locale].has_message(key)

    def get(self, locale: str, key: str, **args: Any) -> str:
        """The message text; string arguments are inserted as given (see `I18n` for escaping)."""
        for candidate in (locale, self.default_locale):
            bundle = self._bundles.get(candidate)
            if bundle is not None and bundle.has_message(key):
                message = bundle.get_message(key)
                if message.value is None:
                    break
                outside, args_in = _hold_long_values(args)
                text, errors = bundle.format_pattern(message.value, args_in)
                if errors:
                    log.warning("fluent errors in %s/%s: %s", candidate, key, errors)
                return _restore_long_values(str(text), outside)
        log.error("missing catalogue key %s (%s)", key, locale)
        return key

    def for_locale(self, locale: str) -> I18n:
        return I18n(self, locale)


# Fluent replaces an inserted value longer than 2,500 characters by "{???}" (fluent.runtime's
# MAX_PART_LENGTH, a guard against expansion attacks): string values longer than this are
# inserted after formatting instead. Well below the cap: a placeable may wrap a value in text.
LONG_VALUE = 1000


def _hold_long_values(args: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Long string values swapped for short markers (returned with the values they stand for).

    The marker holds a NUL, which no catalogue or Telegram text contains; a long value is text
    to show, never a selector's key, so Fluent loses nothing by seeing only the marker.
    """
    outside: dict[str, str] = {}
    held: dict[str, Any] = {}
    for name, value in args.items():
        if isinstance(value, str) and len(value) > LONG_VALUE:
            marker = f"\x00{len(outside)}\x00"
            outside[marker] = str(value)
            held[name] = marker
        else:
            held[name] = value
    return outside, held


def _restore_long_values(text: str, outside: dict[str, str]) -> str:
    for marker, value in outside.items():
        text = text.replace(marker, value)
    return text


def preview(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, visibly ("…" at the end), for echoing user input
    back (an unknown command, a name) inside a message that must stay under Telegram's limit."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…"


class Html(str):
    """Text already in Telegram HTML; passed to a catalogue message without escaping."""

    __slots__ = ()


def _escape(args: dict[str, Any]) -> dict[str, Any]:
    # Messages go out with parse_mode=HTML, so a user's "<name>" must not become markup.
    return {
        k: v if isinstance(v, Html) or not isinstance(v, str) else html.escape(v, quote=False)
        for k, v in args.items()
    }


class I18n:
    """The translator bound to one update's locale; what handlers receive as `i18n`.

    String arguments are HTML-escaped unless wrapped in `Html`.
    """

    __slots__ = ("locale", "translator")

    def __init__(self, translator: Translator, locale: str) -> None:
        self.translator = translator
        self.locale = locale

    def __call__(self, key: str, **args: Any) -> str:
        return self.translator.get(self.locale, key, **_escape(args))
