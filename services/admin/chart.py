"""The stats chart as a PNG, drawn with matplotlib's Agg backend (no display, thread-safe use).

The image carries only language-neutral labels (dates, "DAU", "Stars"): the server needs no CJK
font, and the localised explanation goes into the photo's caption.
"""

from __future__ import annotations

import asyncio
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from services.admin.stats import ChartSeries

ACTIVE_LABEL = "DAU"
REVENUE_LABEL = "Stars (XTR)"


def render_png(series: ChartSeries) -> bytes:
    # A Figure of its own (not pyplot): no global state shared between concurrent renders.
    fig = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    labels = [d.strftime("%m-%d") for d in series.days]
    x = list(range(len(labels)))
    ax.plot(x, list(series.active_users), color="#2a7ae2", marker="o", markersize=3)
    ax.set_ylabel(ACTIVE_LABEL, color="#2a7ae2")
    ax.set_ylim(bottom=0)
    if series.revenue is not None:
        ax2 = ax.twinx()
        ax2.bar(x, list(series.revenue), color="#f0a030", alpha=0.4)
        ax2.set_ylabel(REVENUE_LABEL, color="#c07000")
        ax2.set_ylim(bottom=0)
    step = max(1, len(labels) // 10)
    ax.set_xticks(x[::step], labels[::step])
    ax.set_title(f"{series.days[0].isoformat()} – {series.days[-1].isoformat()} (UTC)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


async def render_png_async(series: ChartSeries) -> bytes:
    """Rendering takes tens of milliseconds: off the event loop."""
    return await asyncio.to_thread(render_png, series)
