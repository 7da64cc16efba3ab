"""Report renderings: a rich table, the JSON report, and a node_exporter textfile."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from rich.console import Console
from rich.table import Table

from colostack.validate.model import Status
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
    Gauge("colostack_gpu_validate_last_run_timestamp_seconds", "When the validation ran",
          registry=registry).set_to_current_time()
    write_to_textfile(str(path), registry)
