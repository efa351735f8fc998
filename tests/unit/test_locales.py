"""Every catalogue key exists in every language, and every key the code uses exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fluent.syntax import FluentParser, ast

from bot.i18n import LOCALES_DIR, Translator
from bot.settings import SUPPORTED_LOCALES

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("bot", "handlers", "middlewares", "services", "keyboards")
# i18n("key") and translator.get(locale, "key"): literal kebab-case keys in those calls.
KEY_CALL = re.compile(
    r"""(?:\bi18n|translator\.get)\(\s*(?:[\w.]+,\s*)?["']([a-z][a-z0-9]*(?:-[a-z0-9]+)+)["']"""
)


def catalogue_keys(locale: str) -> dict[str, set[str]]:
    """Message ids per .ftl file name."""
    parser = FluentParser()
    keys: dict[str, set[str]] = {}
    for path in sorted((LOCALES_DIR / locale).glob("*.ftl")):
        resource = parser.parse(path.read_text(encoding="utf-8"))
        junk = [e for e in resource.body if isinstance(e, ast.Junk)]
        assert not junk, f"{path}: syntax error near {(junk[0].content or '')[:80]!r}"
        keys[path.name] = {e.id.name for e in resource.body if isinstance(e, ast.Message)}
    return keys


def test_every_language_has_the_same_files_and_keys() -> None:
    reference = catalogue_keys("ja")
    assert reference, "no Japanese catalogue"
    for locale in SUPPORTED_LOCALES:
        other = catalogue_keys(locale)
        assert set(other) == set(reference), f"{locale}: catalogue files differ"
        for name, keys in reference.items():
            assert other[name] == keys, (
                f"{locale}/{name}: missing {sorted(keys - other[name])}, "
                f"extra {sorted(other[name] - keys)}"
            )


def test_keys_used_in_code_exist() -> None:
    known = set().union(*catalogue_keys("ja").values())
    missing: list[str] = []
    for directory in CODE_DIRS:
        for path in (ROOT / directory).rglob("*.py"):
            for key in KEY_CALL.findall(path.read_text(encoding="utf-8")):
                if key not in known:
                    missing.append(f"{path.relative_to(ROOT)}: {key}")
    assert not missing, "keys used but not in the catalogues:\n" + "\n".join(missing)


def test_commands_have_descriptions() -> None:
    from bot.commands import COMMANDS

    translator = Translator()
    for locale in SUPPORTED_LOCALES:
        for name in COMMANDS:
            assert translator.has(locale, f"cmd-{name}"), f"{locale}: cmd-{name}"
            assert len(translator.get(locale, f"cmd-{name}")) <= 256


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_messages_render_without_fluent_errors(locale: str) -> None:
    translator = Translator()
    # Every message formats with generic arguments: a typo in a selector shows up here.
    for keys in catalogue_keys(locale).values():
        for key in keys:
            text = translator.get(locale, key)
            assert text
            assert text != key


def test_arguments_are_html_escaped_unless_marked() -> None:
    from bot.i18n import Html

    i18n = Translator().for_locale("en")
    assert "&lt;b&gt;" in i18n("start-greeting", name="<b>")
    assert "<b>x</b>" in i18n("start-greeting", name=Html("<b>x</b>"))


def test_locale_resolution() -> None:
    translator = Translator()
    assert translator.resolve_locale(None, "en-US") == "en"
    assert translator.resolve_locale("ja", "en") == "ja"
    assert translator.resolve_locale(None, "de") == "ja"
    assert translator.resolve_locale(None, None) == "ja"


# Mini App pages: data-i18n="key" (and -placeholder/-title) attributes and t("key") calls.
PAGE_KEY = re.compile(
    r"""(?:data-i18n(?:-placeholder|-title)?=|\bt\(\s*)["'`](webapp-[a-z0-9]+(?:-[a-z0-9]+)*)["'`]"""
)


def test_keys_used_in_mini_app_pages_exist_in_their_catalogues() -> None:
    for locale in SUPPORTED_LOCALES:
        served = {
            key
            for name, keys in catalogue_keys(locale).items()
            if name.startswith("webapp")
            for key in keys
        }
        missing: list[str] = []
        for path in sorted((ROOT / "bot" / "webapp" / "static").glob("*.*")):
            if path.suffix not in (".html", ".js"):
                continue
            for key in PAGE_KEY.findall(path.read_text(encoding="utf-8")):
                if key not in served:
                    missing.append(f"{path.name}: {key}")
        assert not missing, f"{locale}: page keys not in webapp*.ftl:\n" + "\n".join(missing)
