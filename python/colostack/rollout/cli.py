"""`colostack rollout`: run a playbook inside the current maintenance window, print its
progress (batches, tasks, host failures) as it happens, and report."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from colostack import argtypes, schema
from colostack.errors import UserError
from colostack.rollout.lock import DEFAULT_LOCK_FILE, LockError
from colostack.rollout.progress import Progress
from colostack.rollout.report import ReportError, RunReport, write_report
from colostack.rollout.runner import RolloutConfig, run_rollout
from colostack.terminal import stdout_console
from colostack.windows import WindowSpec, window_at

# A bad option or window definition is the CLI's one-line error, exit 2, and writes no report.
EXIT_CODES = {"succeeded": 0, "halted": 1, "cancelled": 3, "refused": 4}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rollout", help="run a rollout playbook with a deadline",
        description="Run a rollout playbook under the controller's rollout lock, stopping at the "
        "deadline or the maintenance window's end; progress (batches, hosts, tasks, failures) "
        "prints as it happens. Exit 0 succeeded, 1 halted, 3 cancelled, 4 refused.")
    parser.add_argument("playbook", type=Path, help="the rollout playbook to run")
    parser.add_argument("-i", "--inventory", type=Path, required=True, metavar="PATH",
                        help="ansible inventory holding the desired state")
    parser.add_argument("-l", "--limit", help="ansible host pattern to restrict the run to")
    parser.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS",
                        help="key=value or a YAML/JSON mapping; repeatable")
    parser.add_argument("--report-dir", type=Path, default=Path("/var/lib/colostack/rollouts"),
                        metavar="DIR",
                        help="where run reports and ansible artifacts are kept (%(default)s)")
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(), metavar="DIR",
                        help="ansible project directory (default: the current directory)")
    parser.add_argument("--lock-file", type=Path, default=DEFAULT_LOCK_FILE, metavar="FILE",
                        help="the controller's rollout lock, shared by every rollout playbook")
    parser.add_argument("--take-over", action="store_true",
                        help="take over a lock that a dead rollout left behind")
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--deadline", type=argtypes.aware_datetime, metavar="TIME",
                      help="hard stop, ISO with offset")
    stop.add_argument("--window", metavar="JSON",
                      help="window JSON; the hard stop is the current window's end")
    parser.set_defaults(func=_cmd_rollout)


def progress_printer(console: Console) -> Callable[[dict[str, Any]], None]:
    """Print each event's progress lines; stdout, so the journal keeps them under systemd."""
    progress = Progress()

    def show(event: dict[str, Any]) -> None:
        for line in progress(event):
            console.print(line, markup=False)

    return show


def _extravars(items: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in items:
        parsed = schema.parse_yaml(item, f"--extra-vars {item!r}")
        if isinstance(parsed, dict):
            result.update(parsed)
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--extra-vars {item!r}: expected key=value or a YAML/JSON mapping")
        result[key] = value
    return result


def _window_end(args: argparse.Namespace) -> datetime | None:
    """The current window's end; None outside it. A bad definition raises (exit 2)."""
    spec = WindowSpec.from_mapping(schema.parse_json(args.window, "--window"))
    window = window_at(spec, datetime.now(UTC))
    return None if window is None else window.end


def _cmd_rollout(args: argparse.Namespace) -> int:
    started = datetime.now(UTC).replace(microsecond=0).isoformat()
    extravars = _extravars(args.extra_vars)
    deadline: datetime | None = args.deadline
    if args.window is not None:
        deadline = _window_end(args)
        if deadline is None:
            reason = "not inside the maintenance window; nothing started"
            report = RunReport(str(args.playbook), str(args.inventory), started,
                               cancel_reason=reason)
            write_report(report, args.report_dir)
            print(f"rollout refused: {reason}", file=sys.stderr)
            return EXIT_CODES["refused"]
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    config = RolloutConfig(
        playbook=args.playbook, inventory=args.inventory, report_dir=args.report_dir,
        project_dir=args.project_dir, extravars=extravars, limit=args.limit,
        deadline=deadline, lock_file=args.lock_file, take_over=args.take_over,
    )
    console = stdout_console()
    try:
        report = run_rollout(config, stop, observe=progress_printer(console))
    except (LockError, ReportError) as exc:
        # Nothing ran; the report directory belongs to whoever holds the lock.
        print(f"rollout refused: {exc}", file=sys.stderr)
        return EXIT_CODES["refused"]
    path = write_report(report, args.report_dir)
    if report.previous and report.previous["outcome"] != "succeeded":
        console.print(f"previous run ({report.previous['started']}) was "
                      f"{report.previous['outcome']}", markup=False)
    console.print(report.summary(), markup=False)
    console.print(f"report: {path}", markup=False)
    return EXIT_CODES[report.outcome]
