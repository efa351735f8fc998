"""The chat chart draws its labels in the operator's language: Japanese glyphs come from a CJK
font (Debian's fonts-noto-cjk), not as the boxes a Latin-only font gives."""

from __future__ import annotations

import os
import warnings
from datetime import date, timedelta

import pytest
from matplotlib.ft2font import FT2Font

from bot.i18n import Translator
from services.admin import chart
from services.admin.chart import ChartLabels, render_png
from services.admin.stats import ChartSeries

T = Translator()
DAYS = tuple(date(2026, 11, 4) + timedelta(days=n) for n in range(30))
SERIES = ChartSeries(days=DAYS, active_users=tuple(range(30)), revenue=tuple([5] * 30))


def labels(locale: str) -> ChartLabels:
    return ChartLabels(
        title=T.get(
            locale, "admin-chart-title", start=DAYS[0].isoformat(), end=DAYS[-1].isoformat()
        ),
        active=T.get(locale, "admin-chart-active"),
        revenue=T.get(locale, "admin-chart-revenue"),
    )


def missing_glyphs(png_labels: ChartLabels, families: list[str] | None = None) -> list[str]:
    """matplotlib's warnings about glyphs no font in the list has (what shows as boxes)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render_png(SERIES, png_labels, families=families)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


@pytest.fixture
def cjk_font() -> str:
    path = chart.cjk_font_path()
    if path is None:
        if os.environ.get("LIBRAL_REQUIRE_SERVICES") == "1":
            pytest.fail("no CJK font: install Debian's fonts-noto-cjk (.ci/run does)")
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    return path


def test_the_japanese_labels_come_from_the_catalogue() -> None:
    ja, en = labels("ja"), labels("en")
    assert ja != en
    assert any(ord(c) > 0x3000 for c in ja.title + ja.active + ja.revenue)


def test_the_cjk_font_has_every_glyph_of_the_japanese_labels(cjk_font: str) -> None:
    ja = labels("ja")
    font = FT2Font(cjk_font)
    text = ja.title + ja.active + ja.revenue
    absent = sorted({c for c in text if not c.isspace() and font.get_char_index(ord(c)) == 0})
    assert not absent, f"{cjk_font} lacks {absent}"


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_the_chart_renders_every_label_glyph(cjk_font: str, locale: str) -> None:
    assert missing_glyphs(labels(locale)) == []


def test_a_latin_only_font_would_draw_boxes() -> None:
    # The check above can fail: the same Japanese chart with DejaVu Sans alone loses glyphs.
    lost = missing_glyphs(labels("ja"), families=["DejaVu Sans"])
    assert lost
    assert any("DejaVu Sans" in message for message in lost)
