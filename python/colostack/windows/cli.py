"""`colostack window next|check`: print windows and apply the admission rule for one host."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from colostack import argtypes, schema
from colostack.errors import EXIT_USER_ERROR
from colostack.terminal import stdout_console
from colostack.windows.inventory import host_vars_from_file, host_vars_from_inventory, window_for
from colostack.windows.schedule import Admission, Window, admit, next_windows
from colostack.windows.spec import WindowSpec, WindowSpecError, parse_duration

# Exit codes of `window check`; the Ansible check task keys on them. A config error (no or a
# bad window, a bad option) is the CLI's one-line error.
ADMITTED, REFUSED, CONFIG_ERROR, FORCED = 0, 1, EXIT_USER_ERROR, 3
MAX_COUNT = 1000


def duration(text: str) -> timedelta:
    """argparse type: a positive length such as 45m, 1h30m or 2d."""
    try:
        length = parse_duration(text)
    except WindowSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if length <= timedelta(0):
        raise argparse.ArgumentTypeError(f"must be longer than zero, got {text!r}")
    return length


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("window", help="show or check a host's maintenance windows")
    sub = parser.add_subparsers(dest="window_command", required=True)
    nxt = sub.add_parser("next", help="print the next windows of a host")
    _common(nxt)
    nxt.add_argument("--count", type=argtypes.number(int, ge=1, le=MAX_COUNT), default=3,
                     help=f"how many windows to print (at most {MAX_COUNT})")
    nxt.set_defaults(func=_cmd_next)
    chk = sub.add_parser("check", help="exit 0 if the host may start work now, 1 if not")
    _common(chk)
    chk.add_argument("--expected-duration", type=duration, required=True, help="e.g. 45m, 1h30m")
    chk.add_argument("--force", action="store_true", help="admit anyway (exit 3, recorded)")
    chk.add_argument("--json", action="store_true", help="print the decision as JSON")
    chk.set_defaults(func=_cmd_check)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", required=True, help="inventory hostname whose window applies")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("-i", "--inventory", default="inventories/colo", metavar="PATH",
                     help="ansible inventory (%(default)s)")
    src.add_argument("--vars-file", type=Path, metavar="FILE",
                     help="ansible-inventory --list JSON or YAML map")
    src.add_argument("--window", metavar="JSON",
                     help="the window itself as JSON (as the Ansible check passes it)")
    parser.add_argument("--now", type=argtypes.aware_datetime,
                        help="ISO time with offset (tests)")


def _spec(args: argparse.Namespace) -> WindowSpec:
    if args.window is not None:
        return WindowSpec.from_mapping(schema.parse_json(args.window, "--window"))
    if args.vars_file:
        return window_for(host_vars_from_file(args.vars_file, args.host), args.host)
    return window_for(host_vars_from_inventory(args.inventory, args.host), args.host)


def _now(args: argparse.Namespace) -> datetime:
    now: datetime = args.now or datetime.now(UTC)
    return now


def _fmt(window: Window) -> str:
    return f"{window.start:%a %Y-%m-%d %H:%M %Z} -> {window.end:%a %Y-%m-%d %H:%M %Z}"


def _cmd_next(args: argparse.Namespace) -> int:
    spec = _spec(args)
    windows = next_windows(spec, _now(args), args.count)
    print(f"{args.host}: {spec.source}")
    for window in windows:
        print(f"  {_fmt(window)}")
    return 0


def _as_dict(host: str, decision: Admission, forced: bool) -> dict[str, Any]:
    return {
        "host": host,
        "admitted": decision.admitted or forced,
        "forced": forced,
        "reason": decision.reason,
        "now": decision.now.isoformat(),
        "expected_duration_s": int(decision.expected.total_seconds()),
        "window_start": decision.current.start.isoformat() if decision.current else None,
        "window_end": decision.current.end.isoformat() if decision.current else None,
        "next_start": decision.next_start.isoformat() if decision.next_start else None,
    }


def _cmd_check(args: argparse.Namespace) -> int:
    decision = admit(_spec(args), _now(args), args.expected_duration)
    forced = args.force and not decision.admitted
    if args.json:
        print(json.dumps(_as_dict(args.host, decision, forced)))
    elif decision.admitted:
        print(f"{args.host}: admitted, {decision.reason} (ends {decision.current.end:%H:%M %Z})"
              if decision.current else f"{args.host}: admitted")
    else:
        nxt = f"{decision.next_start:%a %Y-%m-%d %H:%M %Z}" if decision.next_start else "never"
        verb = "FORCED despite" if forced else "refused"
        stdout_console().print(f"{args.host}: {verb}: {decision.reason}; next window starts {nxt}",
                               markup=False)
    if decision.admitted:
        return ADMITTED
    return FORCED if forced else REFUSED
