"""Write a bill as CSV, JSON and one self-contained HTML page (charts inlined as base64 PNG)."""

from __future__ import annotations

import base64
import calendar
import csv
import html
import io
import json
from pathlib import Path

from matplotlib import colormaps
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from colostack.cost.chargeback import Bill

COLUMNS = ("service", "gpu_hours", "gpu_kwh", "storage_gb_month",
           "hardware", "power", "rent", "storage", "total")


def rows(bill: Bill) -> list[dict[str, str]]:
    out = []
    for line in bill.lines:
        out.append({
            "service": line.service, "gpu_hours": f"{line.gpu_hours:.3f}",
            "gpu_kwh": f"{line.gpu_kwh:.3f}", "storage_gb_month": f"{line.storage_gb_month:.3f}",
            "hardware": f"{line.hardware:.2f}", "power": f"{line.power:.2f}",
            "rent": f"{line.rent:.2f}", "storage": f"{line.storage:.2f}",
            "total": f"{line.total:.2f}",
        })
    return out


def write_csv(bill: Bill, path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows(bill))


def write_json(bill: Bill, path: Path, note: str = "") -> None:
    doc = {"note": note, "month": bill.month, "currency": bill.currency,
           "total": round(bill.total, 2), "services": rows(bill),
           "gpu_hours_by_day": bill.gpu_hours_by_day}
    path.write_text(json.dumps(doc, indent=2) + "\n")


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


PARTS = ("hardware", "power", "rent", "storage")
_HATCH = {"hardware": "", "power": "////", "rent": "....", "storage": "xxxx"}


def service_colours(bill: Bill) -> dict[str, str]:
    """One colour per service, the same in both charts (tab10 repeats after 10 services)."""
    palette = colormaps["tab10"]
    return {line.service: to_hex(palette(i % 10)) for i, line in enumerate(bill.lines)}


def cost_figure(bill: Bill, colours: dict[str, str]) -> Figure:
    """A horizontal bar per service in its colour; the cost parts are hatchings of it."""
    fig = Figure(figsize=(7, 0.8 + 0.45 * len(bill.lines)))
    ax = fig.subplots()
    names = [line.service for line in bill.lines]
    left = [0.0] * len(names)
    for part in PARTS:
        vals = [getattr(line, part) for line in bill.lines]
        ax.barh(names, vals, left=left, color=[colours[n] for n in names], hatch=_HATCH[part],
                edgecolor="black", linewidth=0.4)
        left = [a + v for a, v in zip(left, vals, strict=True)]
    ax.invert_yaxis()  # the table's order, top to bottom
    ax.set_xlabel(bill.currency)
    ax.set_title(f"Cost per service, {bill.month}")
    ax.legend(handles=[Patch(facecolor="white", edgecolor="black", hatch=_HATCH[p], label=p)
                       for p in PARTS], loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def hours_figure(bill: Bill, colours: dict[str, str]) -> Figure:
    """GPU-hours per day of the month, stacked by service; day numbers on a sparse axis."""
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    year, month = (int(x) for x in bill.month.split("-"))
    days = range(1, calendar.monthrange(year, month)[1] + 1)
    by_day = {int(d[-2:]): hours for d, hours in bill.gpu_hours_by_day.items()}
    bottom = [0.0] * len(days)
    for line in bill.lines:
        vals = [by_day.get(d, {}).get(line.service, 0.0) for d in days]
        ax.bar(list(days), vals, bottom=bottom, color=colours[line.service],
               label=line.service, width=0.8)
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    ax.set_xlim(0.4, len(days) + 0.6)
    ax.set_xticks([1, *range(5, len(days) + 1, 5)])
    ax.set_xlabel("day of month")
    ax.set_ylabel("GPU-hours")
    ax.set_title(f"GPU-hours per day, {bill.month}")
    handles, labels = ax.get_legend_handles_labels()  # top to bottom, as the bars stack
    ax.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def charts(bill: Bill) -> tuple[str, str]:
    colours = service_colours(bill)
    return _png(cost_figure(bill, colours)), _png(hours_figure(bill, colours))


def write_html(bill: Bill, path: Path, note: str = "") -> None:
    cost_png, hours_png = charts(bill)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join(
        f'<tr data-service="{html.escape(r["service"])}">'
        + "".join(f"<td>{html.escape(r[c])}</td>" for c in COLUMNS) + "</tr>"
        for r in rows(bill))
    cur = html.escape(bill.currency)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chargeback {bill.month}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}
.note{{color:#a00}}</style></head><body>
<h1>GPU chargeback, {bill.month}</h1>
{f'<p class="note">{html.escape(note)}</p>' if note else ''}
<p>Total: <strong id="total">{bill.total:.2f}</strong> <span id="currency">{cur}</span></p>
<table id="services"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Cost per service</h2><img id="cost-chart" alt="cost per service"
 src="data:image/png;base64,{cost_png}">
<h2>GPU-hours per day</h2><img id="hours-chart" alt="GPU-hours per day"
 src="data:image/png;base64,{hours_png}">
</body></html>
"""
    path.write_text(page)
