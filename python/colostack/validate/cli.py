"""`colostack validate`: parse arguments, pick the readings source, print and write the report."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from colostack import argtypes
from colostack.errors import UserError
from colostack.nvml.session import NvmlError, Session
from colostack.terminal import stderr_progress, stdout_console
from colostack.validate import baseline, dcgm, output, power_cap, quarantine
from colostack.validate.model import ExitCode
from colostack.validate.nvml_source import NvmlReadings
from colostack.validate.readings import ReadingError, Readings, Recorder, ReplayReadings
from colostack.validate.runner import Report, validate
from colostack.validate.settings import Settings


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("validate", help="judge GPU health through NVML, or from a recording",
                              description="Judge every GPU of this host through NVML (or a "
                              "recording): exit 0 healthy, 1 unhealthy, 2 could not validate.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--replay", type=Path, metavar="FILE", help="judge a recording, not hardware")
    src.add_argument("--record", type=Path, metavar="FILE",
                     help="save every raw reading and bandwidth sample as JSON")
    p.add_argument("--baseline", type=Path, metavar="REPORT",
                   help="earlier JSON report; flag regressions (bandwidth down more than 5%%)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report here")
    p.add_argument("--prom", type=Path, metavar="FILE", help="write a node_exporter textfile here")
    p.add_argument("--set-power-cap", action="append", default=[], metavar="[GPU=]WATTS",
                   type=power_cap.cap_spec,
                   help="apply this power cap (all GPUs, or one) within NVML's constraints, "
                        "then check it; in replay, only checked. Repeatable")
    p.add_argument("--expect-power-cap", action="append", default=[], metavar="[GPU=]WATTS",
                   type=power_cap.cap_spec,
                   help="check this cap without applying it (periodic runs). Repeatable")
    p.add_argument("--expect-gpus", metavar="N", type=argtypes.count,
                   help="GPU count (default: the SKU profile's)")
    p.add_argument("--expect-driver", metavar="VERSION",
                   help="pinned driver version, e.g. 550.163.01")
    p.add_argument("--expect-cuda", metavar="VERSION", help="pinned CUDA driver version, e.g. 12.4")
    p.add_argument("--expect-vbios", metavar="VERSION", help="pinned VBIOS version")
    p.add_argument("--bandwidth-floor", type=argtypes.fraction, metavar="FRACTION",
                   help="HBM copy floor as a fraction of peak (default: the SKU profile's)")
    p.add_argument("--bandwidth-reps", metavar="N", type=argtypes.count, default=5,
                   help="copy samples per GPU (median)")
    p.add_argument("--temp-margin", metavar="DEGREES", default=5.0,
                   type=argtypes.number(float, ge=0, le=100),
                   help="degrees C below NVML limits")
    p.add_argument("--xid-window", type=argtypes.positive, default=120.0, metavar="MINUTES",
                   help="only XIDs this recent count")
    p.add_argument("--timeout", metavar="SECONDS", type=argtypes.positive, default=5.0,
                   help="limit for each NVML call")
    p.add_argument("--quarantine-flag", type=Path, metavar="FILE",
                   help="opt-in quarantine: on a fatal XID or pending recovery action, drain the "
                        "node by writing this drain flag (the vLLM proxy's); off when absent")
    p.add_argument("--quarantine-release-after", type=argtypes.non_negative_int, default=0,
                   metavar="RUNS", help="remove the quarantine's flag after this many consecutive "
                   "healthy runs; 0 never (an operator removes it)")
    p.add_argument("--dcgm-diag", type=argtypes.number(int, ge=1, le=4), metavar="LEVEL",
                   help="also run `dcgmi diag -r LEVEL -j` (1-4) on this host, even with "
                        "--replay, and add its tests as checks")
    view = p.add_mutually_exclusive_group()
    view.add_argument("-v", "--verbose", action="store_true",
                      help="print every check of every GPU (default: one line per GPU)")
    view.add_argument("--quiet", action="store_true", help="print no table")
    p.add_argument("--failures-only", action="store_true",
                   help="print only GPUs (or, with -v, rows) that did not pass")
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace, caps: dict[int, float]) -> Settings:
    return Settings(expect_gpus=args.expect_gpus, expect_driver=args.expect_driver,
                    expect_cuda=args.expect_cuda, expect_vbios=args.expect_vbios,
                    power_caps_w=caps, bandwidth_floor=args.bandwidth_floor,
                    temp_margin_c=args.temp_margin, xid_window_s=args.xid_window * 60)


def _open_source(args: argparse.Namespace, stack: ExitStack,
                 bar: Progress) -> tuple[Readings, str, bool]:
    if args.replay:
        replay = ReplayReadings.load(args.replay)
        return replay, f"replay:{args.replay}", replay.synthetic
    nvml = stack.enter_context(Session(args.timeout))
    try:
        total: int | None = nvml.gpu_count()
    except NvmlError:
        total = None  # the inventory check reports it
    bar.start()
    task = bar.add_task("HBM bandwidth and compute runs", total=total)
    return (NvmlReadings(nvml, bandwidth_reps=args.bandwidth_reps,
                         xid_window_s=args.xid_window * 60,
                         on_load_done=lambda gpu: bar.advance(task)), "nvml", False)


def _apply_caps(args: argparse.Namespace, readings: Readings) -> tuple[dict[int, float], list[str]]:
    if not args.set_power_cap and not args.expect_power_cap:
        return {}, []
    count = int(readings.system("gpu_count"))
    expected = power_cap.parse_caps(args.expect_power_cap, count)
    caps = power_cap.parse_caps(args.set_power_cap, count)
    plans = power_cap.plan(readings, expected | caps)
    if not caps:
        return expected, []
    plans = [p for p in plans if p.gpu in caps]
    if args.replay:
        return expected | caps, [
            f"power caps checked against the recording's constraints, not applied: "
            f"{ {p.gpu: p.watts for p in plans} }"]
    changed = power_cap.apply(readings, plans)  # type: ignore[arg-type]
    notes = [f"power cap set: GPU {p.gpu} {p.current_w:g} W -> {p.watts:g} W" for p in changed]
    return expected | caps, notes


def run(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        return _run(args, stack)


def _run(args: argparse.Namespace, stack: ExitStack) -> int:
    console = stdout_console()
    bar = stderr_progress()  # stopped (and, being transient, erased) before anything prints
    stack.callback(bar.stop)
    try:
        readings, source, synthetic = _open_source(args, stack, bar)
        baseline_report = baseline.load(args.baseline) if args.baseline else None
    except UserError as exc:
        print(f"could not validate: {exc}", file=sys.stderr)
        return int(ExitCode.COULD_NOT_VALIDATE)
    recorder = Recorder(readings) if args.record else None
    try:
        caps, notes = _apply_caps(args, recorder or readings)
    except (power_cap.PowerCapError, ReadingError) as exc:
        print(f"power cap not applied: {exc}", file=sys.stderr)
        return int(ExitCode.COULD_NOT_VALIDATE)
    report = validate(recorder or readings, _settings(args, caps), source, synthetic)
    bar.stop()
    report.notes += notes
    if args.dcgm_diag:
        try:
            diag, skipped = dcgm.run_diag(args.dcgm_diag)
            report.results += diag
            report.notes += skipped
        except dcgm.DcgmError as exc:
            print(f"could not validate: {exc}", file=sys.stderr)
            return int(ExitCode.COULD_NOT_VALIDATE)
    if baseline_report is not None:
        report.results += baseline.compare(report.results, baseline_report)
    if recorder is not None:
        args.record.write_text(json.dumps(recorder.recording(
            synthetic=False, note="recorded on hardware by colostack validate --record",
            recorded_at=report.started), indent=1) + "\n")
        report.notes.append(f"recording written to {args.record}")
    if args.quarantine_flag:
        outcome = quarantine.apply(
            quarantine.Policy(args.quarantine_flag, args.quarantine_release_after),
            report.results, report.exit_code is ExitCode.HEALTHY, report.started)
        report.quarantined = outcome.quarantined
        if outcome.message:  # the journal, whatever the view
            print(outcome.message, file=sys.stderr)
    _write(args, report, console)
    return int(report.exit_code)


def _write(args: argparse.Namespace, report: Report, console: Console) -> None:
    if args.json:
        output.write_json(report, args.json)
    if args.prom:
        output.write_prom(report, args.prom)
    if args.verbose:
        output.print_table(report, console, args.failures_only)
    elif not args.quiet:
        output.print_compact(report, console, args.failures_only)
    else:
        for note in report.notes:
            print(note)
    for r in report.results:  # always, so logs and the journal name the GPU and the check
        if r.status.value != "pass":
            print(f"{r.status.value.upper()}: {r.where} {r.check}: {r.reason}", file=sys.stderr)
    print(f"verdict: {report.verdict} (exit {int(report.exit_code)}, "
          f"{report.duration_s * 1000:.1f} ms)")
