"""Cumulative cost over the horizon, one line per approach, break-even points marked."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from colostack.tco.model import Result


def write_png(result: Result, path: Path) -> None:
    months = list(range(result.months + 1))
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    even = result.break_even()
    for i, a in enumerate(result.approaches):
        line = ax.plot(months, [a.cumulative(m) for m in months], label=a.name)[0]
        m = even.get(a.name)
        if m is not None and 0 < m <= result.months:
            ax.plot([m], [a.cumulative(m)], "o", color=line.get_color(), markersize=8)
            ax.annotate(f"{a.name} breaks even, month {m}", (m, a.cumulative(m)),
                        textcoords="offset points", xytext=(8, -12 * i), fontsize=8,
                        color=line.get_color())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"${v / 1000:,.0f}k"))
    ax.set_xlabel("month")
    ax.set_ylabel("cumulative cost")
    ax.set_title(f"Cumulative cost over {result.months} months (break-even vs {result.baseline})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=100, bbox_inches="tight")
