"""The reports' charts as SVG, drawn by matplotlib without a display (its Agg backend): each a
data URI for an ``<img>`` (its ids cannot clash with the page's, nothing in it runs), with the
table beside it in the report for readers who cannot see it."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display here: set before pyplot is imported

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

# Text stays text (smaller files, selectable in the PDF); ids and dates fixed so that the same
# report draws the same bytes.
matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",
        "svg.hashsalt": "mapnet-reports",
        "font.family": "DejaVu Sans",
        "font.size": 9,
    }
)
BAR = "#2a6f97"
TARGET = "#c44536"
MUTED = "#9bb7c9"


def _svg(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _height(rows: int) -> float:
    return max(1.4, 0.32 * rows + 0.6)


def bars(labels: Sequence[str], values: Sequence[float], unit: str = "") -> str:
    """Horizontal bars, first label on top."""
    figure, axes = plt.subplots(figsize=(6.4, _height(len(labels))))
    positions = list(range(len(labels)))[::-1]
    axes.barh(positions, values, color=BAR)
    axes.set_yticks(positions, labels)
    for y, v in zip(positions, values, strict=True):
        axes.annotate(f"{v:g}", (v, y), xytext=(3, 0), textcoords="offset points", va="center")
    axes.set_xlabel(unit)
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(x=0.12)
    return _svg(figure)


def against_targets(labels: Sequence[str], reached: Sequence[int], targets: Sequence[int]) -> str:
    """Each indicator as the share of its target reached, the target at 100 %."""
    shares = [100 * r / t if t else 0 for r, t in zip(reached, targets, strict=True)]
    figure, axes = plt.subplots(figsize=(6.4, _height(len(labels))))
    positions = list(range(len(labels)))[::-1]
    colours = [BAR if s >= 100 else MUTED for s in shares]
    axes.barh(positions, [min(s, 150) for s in shares], color=colours)
    axes.axvline(100, color=TARGET, linewidth=1.2)
    axes.set_yticks(positions, labels)
    for y, s, r, t in zip(positions, shares, reached, targets, strict=True):
        axes.annotate(
            f"{r} / {t}", (min(s, 150), y), xytext=(3, 0), textcoords="offset points", va="center"
        )
    axes.set_xlabel("% of target (line: target)")
    axes.set_xlim(0, 175)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def matrix(regions: Sequence[str], cells: dict[tuple[str, str], int]) -> str:
    """The cooperation matrix as a heat map with its counts; "" without regions (a report of
    no snapshots yet: the page shows no chart, and matplotlib draws no empty image)."""
    if not regions:
        return ""
    size = max(2.4, 0.5 * len(regions) + 1.2)
    figure, axes = plt.subplots(figsize=(size + 0.8, size))
    values = [[cells.get((a, b), 0) for b in regions] for a in regions]
    image = axes.imshow(values, cmap="Blues")
    axes.set_xticks(range(len(regions)), regions, rotation=45, ha="right")
    axes.set_yticks(range(len(regions)), regions)
    top = max((v for row in values for v in row), default=0)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            colour = "white" if top and v > top / 2 else "black"
            axes.text(j, i, str(v), ha="center", va="center", color=colour)
    figure.colorbar(image, ax=axes, shrink=0.7)
    return _svg(figure)
