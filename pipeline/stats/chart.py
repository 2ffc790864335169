"""A channel's chart as a PNG: the best hours as a heatmap, and the reactions of its latest
publications over time.

Drawn with matplotlib's object API on the Agg canvas: no display, no pyplot state shared
between threads (the bot draws in a worker thread). Sized for a phone: Telegram shows a
photo about 1,000 pixels wide, so the fonts are large and the hour axis is labelled every
three hours.
"""

from __future__ import annotations

import io
import warnings
from contextlib import AbstractContextManager
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

from pipeline.errors import NotFoundError
from pipeline.stats.hours import WEEKDAYS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from pipeline.stats.report import ChannelStats

_DPI = 130
_WIDTH = 8.0  # inches: 1,040 pixels

# Tried in turn for each character (matplotlib falls back glyph by glyph): the bundled
# DejaVu Sans (Latin, Cyrillic, Greek), then other scripts' fonts where the system has them
# (the Docker image installs Noto CJK).
_FAMILIES = (
    "DejaVu Sans",
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans Arabic",
    "Noto Sans",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
)


@cache
def _fonts() -> tuple[list[str], frozenset[int]]:
    """The families of :data:`_FAMILIES` this system has, and the characters they draw."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    families: list[str] = []
    drawn: set[int] = set()
    for family in _FAMILIES:
        entry = next((f for f in font_manager.fontManager.ttflist if f.name == family), None)
        if entry is not None:
            families.append(family)
            drawn.update(FT2Font(entry.fname).get_charmap())
    return families, frozenset(drawn)


def drawable(text: str, instead: str) -> str:
    """``text`` without the characters no font here can draw (they would show as boxes),
    or ``instead`` when little of it is left."""
    _, drawn = _fonts()
    kept = "".join(ch if ord(ch) in drawn or ch.isspace() else " " for ch in text)
    kept = " ".join(kept.split())
    letters = sum(ch.isalnum() for ch in text)
    return kept if sum(ch.isalnum() for ch in kept) * 2 >= letters and kept else instead


def no_chart_reason(stats: ChannelStats) -> str | None:
    """Why ``stats`` has nothing to draw, as a sentence; None when it has."""
    if not stats.messages:
        return f"{stats.channel} has no dated posts or publications yet: nothing to draw."
    if not stats.has_chart:
        return f"{stats.channel} has no reactions recorded yet: nothing to draw."
    return None


def _heatmap(axes: Axes, figure: Figure, stats: ChannelStats) -> None:
    import numpy as np

    values = np.array(
        [[np.nan if value is None else value for value in row] for row in stats.cells]
    )
    # The colours span the usual cells: one outlier would leave all the others alike.
    low, high = (float(np.nanpercentile(values, q)) for q in (2, 98))
    from matplotlib import colormaps

    # No message at that hour: grey, not the colour of "no reactions".
    palette = colormaps["YlOrRd"].with_extremes(bad="#eeeeee")
    colours = axes.imshow(
        values,
        cmap=palette,
        aspect="auto",
        interpolation="nearest",
        vmin=low,
        vmax=max(high, low + 1.0),
    )
    axes.set_yticks(range(len(WEEKDAYS)), WEEKDAYS)
    axes.set_xticks(range(0, 24, 3), [f"{hour:02d}" for hour in range(0, 24, 3)])
    axes.set_xlabel(f"hour ({stats.zone})")
    best = ", ".join(slot.label for slot in stats.best_hours)
    axes.set_title(
        "Reactions per post by weekday and hour"
        + (f"\nbest: {best} (boxed: best weekday hours)" if best else ""),
        loc="left",
    )
    for slot in stats.best_slots:
        assert slot.weekday is not None
        axes.add_patch(_box(slot.hour - 0.5, slot.weekday - 0.5))
    bar = figure.colorbar(colours, ax=axes, fraction=0.04, pad=0.02, extend="both")
    bar.set_label("reactions per post (expected now)")


def _box(x: float, y: float) -> Rectangle:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 1, 1, fill=False, edgecolor="#1f4e79", linewidth=2.5)


def _growth(axes: Axes, stats: ChannelStats) -> None:
    for growth in stats.growth:
        hours = [(at - growth.sent_at) / timedelta(hours=1) for at, _ in growth.points]
        totals = [total for _, total in growth.points]
        title = drawable(growth.title, f"publication {growth.publication_id}")
        title = title if len(title) <= 32 else title[:31] + "…"
        axes.step(hours, totals, where="post", linewidth=2.5, marker="o", markersize=4, label=title)
    axes.set_xlabel("hours after publishing")
    axes.set_ylabel("reactions")
    axes.set_title("Reactions of the latest publications", loc="left")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="upper left")


def render_chart(stats: ChannelStats) -> bytes:
    """The chart of ``stats`` as PNG bytes; :class:`NotFoundError` when there is nothing to
    draw (the caller says so in a sentence instead)."""
    reason = no_chart_reason(stats)
    if reason is not None:
        raise NotFoundError(reason)
    from matplotlib.figure import Figure  # 0.3 s to import: only when a chart is drawn

    panels = 2 if stats.growth else 1
    with _matplotlib_style():
        figure = Figure(figsize=(_WIDTH, 4.6 * panels + 0.8), dpi=_DPI, layout="constrained")
        name = drawable(stats.channel, f"channel {stats.channel_id}")
        figure.suptitle(f"{name}: {stats.reactions:,} reactions", fontsize=17)
        axes = figure.subplots(panels, 1, squeeze=False)[:, 0]
        _heatmap(axes[0], figure, stats)
        if stats.growth:
            _growth(axes[1], stats)
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            # Titles in scripts the bundled font lacks (CJK, emoji) draw as boxes, not errors.
            warnings.filterwarnings("ignore", message="Glyph .* missing from")
            figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _matplotlib_style() -> AbstractContextManager[None]:
    from matplotlib import rc_context

    return rc_context(
        {
            "font.family": _fonts()[0],
            "font.size": 14,
            "axes.titlesize": 15,
            "axes.labelsize": 14,
            "xtick.labelsize": 13,
            "ytick.labelsize": 13,
        }
    )
