"""XID errors from the kernel log inside a time window, and NVML's GPU recovery action."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from dateutil.parser import isoparse

from colostack.nvml.pci import BusKey, bus_key
from colostack.validate.checks.base import Context, per_gpu
from colostack.validate.model import CheckResult, judge
from colostack.validate.readings import ReadingError

# XIDs that mean a GPU fault (Azure HPC health checks' list).
FAULT_XIDS = frozenset({48, 56, 57, 58, 62, 63, 64, 65, 68, 69, 73, 74, 79, 80, 81, 92, 119, 120})

RECOVERY_ACTIONS: dict[int, str] = {
    0: "none", 1: "GPU reset", 2: "node reboot", 3: "drain P2P", 4: "drain and reset",
    5: "recover IMEX domain", 6: "bus reset", 7: "system reboot",
}

_XID = re.compile(r"NVRM: Xid \(PCI:([0-9a-fA-F]+):([0-9a-fA-F]+):([0-9a-fA-F]+)(?:\.\d)?\): (\d+)")


@dataclass(frozen=True)
class XidEvent:
    bus: BusKey
    xid: int
    at: datetime | None  # None: timestamp unreadable, treated as recent (fail closed)
    line: str


def _timestamp(line: str) -> datetime | None:
    try:
        at = isoparse(line.split(maxsplit=1)[0])
    except (ValueError, IndexError):
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def parse(lines: list[str]) -> list[XidEvent]:
    """Xid events from `journalctl -k -o short-iso-precise` or `dmesg --time-format iso` lines."""
    events = []
    for line in lines:
        match = _XID.search(line)
        if match:
            bus = bus_key(f"{match[1]}:{match[2]}:{match[3]}")
            events.append(XidEvent(bus, int(match[4]), _timestamp(line), line.strip()))
    return events


def in_window(events: list[XidEvent], now: datetime, window_s: float) -> list[XidEvent]:
    return [e for e in events if e.at is None or (now - e.at).total_seconds() <= window_s]


def _xids(ctx: Context, gpu: int, recent: list[XidEvent]) -> CheckResult:
    bus = bus_key(str(ctx.readings.gpu(gpu, "pci.bus_id")))
    faults = [e for e in recent if e.bus == bus and e.xid in FAULT_XIDS]
    hours = ctx.settings.xid_window_s / 3600
    if not faults:
        return judge("xid", gpu, True, 0, 0, reason=f"no fault XIDs in the last {hours:g} h")
    first = faults[0]
    when = first.at.isoformat() if first.at else "unknown time"
    return judge("xid", gpu, False, len(faults), 0, reason=f"XID {first.xid} at {when} "
                 f"({len(faults)} fault XIDs in the last {hours:g} h)")


def _recovery(ctx: Context, gpu: int) -> CheckResult:
    action = int(ctx.readings.gpu(gpu, "recovery_action"))
    name = RECOVERY_ACTIONS.get(action, f"unknown action {action}")
    return judge("recovery_action", gpu, action == 0, name, "none",
                 reason="no recovery needed" if action == 0 else f"NVML asks for: {name}")


def run(ctx: Context) -> list[CheckResult]:
    try:
        lines = [str(x) for x in ctx.readings.system("kernel_log")]
        now = datetime.fromtimestamp(float(ctx.readings.system("clock.now")), UTC)
    except (ReadingError, ValueError, TypeError) as exc:  # an unreadable log fails every GPU
        err = str(exc)
        return per_gpu("xid", ctx, lambda g: judge("xid", g, False, None, 0,
                                                   reason=f"kernel log unreadable: {err}"))
    recent = in_window(parse(lines), now, ctx.settings.xid_window_s)
    return (per_gpu("xid", ctx, lambda g: _xids(ctx, g, recent))
            + per_gpu("recovery_action", ctx, lambda g: _recovery(ctx, g)))
