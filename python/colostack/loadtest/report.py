"""The one-page HTML report: the summary table and latency and throughput over time."""

from __future__ import annotations

import html
import io
from pathlib import Path

from colostack.loadtest.stats import Sample, Summary


def _svg(samples: list[Sample], duration_s: float) -> str:
    import matplotlib  # noqa: PLC0415 (optional dependency, only for reports)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    ok = [s for s in samples if s.error is None]
    bad = [s for s in samples if s.error is not None]
    fig, (lat, thr) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    lat.scatter([s.start for s in ok], [s.e2e * 1000 for s in ok], s=6, label="end to end")
    lat.scatter(
        [s.start for s in ok], [s.ttft * 1000 for s in ok], s=6, label="time to first token"
    )
    if bad:
        lat.scatter(
            [s.start for s in bad], [s.e2e * 1000 for s in bad], s=12, marker="x", label="error"
        )
    lat.set_ylabel("latency (ms)")
    lat.legend(loc="upper left")
    buckets = max(1, int(duration_s) + 1)
    per_s = [0.0] * buckets
    for s in ok:
        per_s[min(buckets - 1, int(s.start + s.e2e))] += s.tokens
    thr.plot(range(buckets), per_s)
    thr.set_ylabel("tokens/s (completed)")
    thr.set_xlabel("seconds since start")
    fig.tight_layout()
    out = io.StringIO()
    fig.savefig(out, format="svg")
    plt.close(fig)
    return out.getvalue()


def write(path: Path, title: str, summary: Summary, samples: list[Sample]) -> None:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.1f}"

    rows = "".join(
        f"<tr><th>{name}</th><td>{ms(d['p50'])}</td><td>{ms(d['p95'])}</td><td>{ms(d['p99'])}</td></tr>"
        for name, d in (
            ("time to first token", summary.ttft_s),
            ("inter-token", summary.itl_s),
            ("end to end", summary.e2e_s),
        )
    )
    verdict = "SLO met" if summary.slo_met else "SLO NOT met: " + "; ".join(summary.failures)
    style = "body{font-family:sans-serif;max-width:60em;margin:1em auto}td,th{padding:.2em .8em}"
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8">
<title>{html.escape(title)}</title><style>{style}</style></head><body><h1>{html.escape(title)}</h1><p><b>{html.escape(verdict)}</b></p>
<p>{summary.requests} requests in {summary.duration_s:.1f} s, {summary.errors} errors
({summary.error_rate:.2%}), {summary.tokens_per_s:.1f} tokens/s,
SLO broken by {summary.slo_break_rate:.2%}.</p>
<table><tr><th>latency (ms)</th><th>p50</th><th>p95</th><th>p99</th></tr>{rows}</table>
{_svg(samples, summary.duration_s)}</body></html>
""")
