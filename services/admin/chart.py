"""The stats chart as a PNG, drawn with matplotlib's Agg backend (no display, thread-safe use).

Labels come from the operator's catalogue (`ChartLabels`), so they are Japanese for a Japanese
operator. Every text element is drawn with `FONT_FAMILIES`: Noto Sans CJK (Debian's
`fonts-noto-cjk`, installed in the Docker image and by `.ci/run`) first, then matplotlib's own
DejaVu Sans, which matplotlib falls back to glyph by glyph. Without the CJK font the chart still
renders; Japanese glyphs then show as boxes and matplotlib warns "Glyph … missing from font(s)".
"""

from __future__ import annotations

import asyncio
import glob
import io
import logging
import threading
from dataclasses import dataclass
from types import ModuleType

from services.admin.stats import ChartSeries

log = logging.getLogger(__name__)

CJK_FAMILY = "Noto Sans CJK JP"
FONT_FAMILIES = [CJK_FAMILY, "DejaVu Sans"]
# Where Debian's fonts-noto-cjk puts the sans faces (a .ttc collection per weight).
_CJK_FONT_GLOBS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK*.ttc",
    "/usr/share/fonts/**/NotoSansCJK*.tt[cf]",
)

_font_lock = threading.Lock()
_font_checked = False


def _font_manager() -> ModuleType:
    # matplotlib is imported on first use (the first chart an operator asks for, in a worker
    # thread): it costs about 40 MB resident, and most processes never draw a chart.
    import matplotlib.font_manager

    return matplotlib.font_manager


@dataclass(frozen=True, slots=True)
class ChartLabels:
    """Localised texts of the chart (from `admin-chart-*` in the operator's catalogue)."""

    title: str
    active: str
    revenue: str


def cjk_font_path() -> str | None:
    """The file matplotlib uses for `CJK_FAMILY`, or None when no CJK font is installed.

    matplotlib caches its font list on first use; a font installed after that cache was written
    is added here by path, so a machine that got `fonts-noto-cjk` late still finds it.
    """
    global _font_checked
    with _font_lock:
        if not _font_checked:
            _font_checked = True
            if _find() is None:
                for pattern in _CJK_FONT_GLOBS:
                    matches = sorted(glob.glob(pattern, recursive=True))
                    if matches:
                        _font_manager().fontManager.addfont(str(matches[0]))
                        break
            if _find() is None:
                log.warning(
                    "no CJK font (%s): Japanese chart labels will show as boxes; "
                    "install Debian's fonts-noto-cjk",
                    CJK_FAMILY,
                )
        return _find()


def _find() -> str | None:
    font_manager = _font_manager()
    try:
        path = font_manager.findfont(
            font_manager.FontProperties(family=CJK_FAMILY), fallback_to_default=False
        )
    except ValueError:
        return None
    return str(path)


def render_png(
    series: ChartSeries, labels: ChartLabels, *, families: list[str] | None = None
) -> bytes:
    """`families` overrides the font list (tests draw with Latin-only fonts to compare)."""
    # On first use, like `_font_manager`.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if families is None:
        cjk_font_path()
        families = FONT_FAMILIES
    # A Figure of its own (not pyplot, no rc_context): no global state shared between renders.
    fig = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ticks = [d.strftime("%m/%d") for d in series.days]
    x = list(range(len(ticks)))
    ax.plot(x, list(series.active_users), color="#2a7ae2", marker="o", markersize=3)
    ax.set_ylabel(labels.active, color="#2a7ae2", fontfamily=families)
    ax.set_ylim(bottom=0)
    axes = [ax]
    if series.revenue is not None:
        ax2 = ax.twinx()
        ax2.bar(x, list(series.revenue), color="#f0a030", alpha=0.4)
        ax2.set_ylabel(labels.revenue, color="#c07000", fontfamily=families)
        ax2.set_ylim(bottom=0)
        axes.append(ax2)
    step = max(1, len(ticks) // 10)
    ax.set_xticks(x[::step], ticks[::step])
    for axis in axes:
        for tick in axis.get_xticklabels() + axis.get_yticklabels():
            tick.set_fontfamily(families)
    ax.set_title(labels.title, fontfamily=families)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


async def render_png_async(series: ChartSeries, labels: ChartLabels) -> bytes:
    """Rendering takes tens of milliseconds: off the event loop."""
    return await asyncio.to_thread(render_png, series, labels)
