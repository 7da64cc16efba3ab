"""Report renderings: a compact and a full rich table, the JSON report, and a node_exporter
textfile."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from colostack.validate.model import CheckResult, Status
from colostack.validate.runner import Report

_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.UNKNOWN: "yellow"}


def _text(value: object) -> str:
    return "" if value is None else str(value)


def table(report: Report, failures_only: bool = False) -> Table:
    out = Table(title=f"colostack validate: {report.verdict} ({report.source})")
    for column in ("GPU", "Check", "Status", "Observed", "Limit", "Reason"):
        out.add_column(column, overflow="fold")
    for r in report.results:
        if failures_only and r.status is Status.PASS:
            continue
        out.add_row(r.where, r.check, f"[{_STYLE[r.status]}]{r.status.value}[/]",
                    _text(r.observed), _text(r.limit), r.reason)
    return out


def print_table(report: Report, console: Console, failures_only: bool = False) -> None:
    console.print(table(report, failures_only))
    if report.synthetic:
        console.print("[yellow]source is a SYNTHETIC recording, not hardware[/]")
    for note in report.notes:
        console.print(note)


# The compact view: one line per GPU with its key figures; what did not pass is listed beneath.
_FIGURES: tuple[tuple[str, str, int, str], ...] = (
    # header, check whose observed value fills the column, width, unit
    ("Temp", "gpu_temperature", 5, " C"),
    ("HBM T", "hbm_temperature", 5, " C"),
    ("Cap", "power_cap", 6, " W"),
    ("PCIe", "pcie_link", 8, ""),
    ("NVLink", "nvlink", 6, ""),
    ("HBM GB/s", "hbm_bandwidth", 8, ""),
)
_MARK = {Status.FAIL: "FAIL", Status.UNKNOWN: "UNKNOWN"}


def _figure(result: CheckResult | None, unit: str) -> str:
    if result is None or result.observed is None:
        return "-"
    value = result.observed
    if isinstance(value, float):
        value = f"{value:.0f}"
    if result.check == "nvlink" and result.limit is not None:
        return f"{value}/{result.limit}"
    return f"{value}{unit}"


def _summary(results: list[CheckResult]) -> Text:
    passed = sum(r.status is Status.PASS for r in results)
    worst = next((s for s in (Status.FAIL, Status.UNKNOWN) if any(r.status is s for r in results)),
                 Status.PASS)
    label = _MARK.get(worst, "pass")
    return Text(f"{passed}/{len(results)} {label}", style=_STYLE[worst])


def _problems(results: list[CheckResult]) -> list[Text]:
    return [Text(f"{_MARK[r.status]} {r.check}: {r.reason}", style=_STYLE[r.status])
            for r in results if r.status is not Status.PASS]


def print_compact(report: Report, console: Console, failures_only: bool = False) -> None:
    """One line per GPU (about 70 columns); each check that did not pass is indented beneath."""
    console.print(f"colostack validate: [bold]{report.verdict}[/]")
    console.print(f"source: {report.source}", markup=False)
    if report.synthetic:
        console.print("[yellow]source is a SYNTHETIC recording, not hardware[/]")
    by_gpu: dict[int | None, list[CheckResult]] = {}
    for r in report.results:
        by_gpu.setdefault(r.gpu, []).append(r)
    host = by_gpu.pop(None, [])
    facts = {r.check: r.observed for r in host}
    console.print(f"host: driver {_text(facts.get('driver_version')) or '-'}, "
                  f"CUDA {_text(facts.get('cuda_driver_version')) or '-'}, "
                  f"{len(report.gpus)} GPUs visible; checks", _summary(host))
    _print_problems(console, _problems(host))
    names = sorted({_text(g.get("name")) for g in report.gpus} - {""})
    if names:
        console.print("model: " + ", ".join(names))
    header = "GPU  " + "  ".join(f"{h:>{w}}" for h, _, w, _ in _FIGURES) + "  Checks"
    console.print(Text(header, style="bold"), no_wrap=True, overflow="crop")
    for gpu, results in sorted(by_gpu.items(), key=lambda item: item[0] or 0):
        problems = _problems(results)
        if failures_only and not problems:
            continue
        found = {r.check: r for r in results}
        row = Text(f"{gpu:>3}  " + "  ".join(
            f"{_figure(found.get(check), unit):>{w}}" for _, check, w, unit in _FIGURES) + "  ")
        row.append_text(_summary(results))
        console.print(row, no_wrap=True, overflow="crop")
        _print_problems(console, problems)


def _print_problems(console: Console, problems: list[Text]) -> None:
    for problem in problems:
        if console.soft_wrap:  # a pipe or the journal: one whole line (Padding would crop it)
            console.print(Text("     ").append_text(problem))
        else:
            console.print(Padding(problem, (0, 0, 0, 5), expand=False))


def write_json(report: Report, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    tmp.replace(path)


def write_prom(report: Report, path: Path) -> None:
    """One gauge sample per check and GPU (1 pass, 0 otherwise), written atomically."""
    registry = CollectorRegistry()
    check = Gauge("colostack_gpu_check_passed", "1 when the check passed, 0 on fail or unknown",
                  ["check", "gpu"], registry=registry)
    for r in report.results:
        check.labels(r.check, "host" if r.gpu is None else str(r.gpu)).set(
            1 if r.status is Status.PASS else 0)
    Gauge("colostack_gpu_validate_exit_code", "0 healthy, 1 unhealthy, 2 could not validate",
          registry=registry).set(int(report.exit_code))
    Gauge("colostack_gpu_validate_duration_seconds", "Wall time of the validation",
          registry=registry).set(report.duration_s)
    Gauge("colostack_gpu_validate_synthetic", "1 when the source was a synthetic recording",
          registry=registry).set(1 if report.synthetic else 0)
    if report.quarantined is not None:
        Gauge("colostack_gpu_quarantined", "1 while this node is drained by the validator's "
              "quarantine (fatal XID or pending recovery action)", registry=registry).set(
                  1 if report.quarantined else 0)
    Gauge("colostack_gpu_validate_last_run_timestamp_seconds", "When the validation ran",
          registry=registry).set_to_current_time()
    write_to_textfile(str(path), registry)
