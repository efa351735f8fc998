"""Long values through the catalogues: inserted whole (Fluent alone caps them at 2,500
characters and shows "{???}"), still escaped; user text echoed back is cut visibly."""

from __future__ import annotations

from bot.i18n import Html, Translator, preview

T = Translator()


def test_a_value_over_fluents_cap_is_inserted_whole() -> None:
    text = "a" * 3499 + "z"
    for locale in ("ja", "en"):
        out = T.for_locale(locale)("admin-bc-preview", text=Html(text))
        assert text in out
        assert "{???}" not in out
        assert "\x00" not in out


def test_a_long_value_is_still_escaped_and_several_keep_their_places() -> None:
    i18n = T.for_locale("en")
    long_name = "<b>" + "n" * 3000
    out = i18n("error-unknown-command", command=long_name)
    assert "&lt;b&gt;" + "n" * 3000 in out
    assert "<b>" not in out
    out = T.get(
        "en", "admin-bc-confirm", audience="x" * 2600, count=3, rate=21, text=Html("y" * 2600)
    )
    assert out.index("x" * 2600) < out.index("y" * 2600)
    assert "{???}" not in out


def test_preview_cuts_visibly() -> None:
    assert preview("short", 10) == "short"
    cut = preview("x" * 100, 10)
    assert cut == "x" * 9 + "…"
    assert len(cut) == 10
