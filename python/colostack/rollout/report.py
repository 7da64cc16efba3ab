"""The run report: per-host outcome from runner events, kept as JSON plus a short summary."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from colostack.fsutil import atomic_write_text

LAST = "last.json"


class ReportError(ValueError):
    """A report file that cannot be read; the message names it."""


@dataclass
class HostResult:
    """Counts from the playbook stats plus the failure that stopped one host."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    failed_task: str | None = None
    message: str | None = None

    @property
    def state(self) -> str:
        if self.unreachable:
            return "unreachable"
        return "failed" if self.failed else "ok"


@dataclass
class RunReport:
    """What one `colostack rollout` did; `outcome` is succeeded, halted, cancelled or refused."""

    playbook: str
    inventory: str
    started: str
    outcome: str = "refused"
    finished: str | None = None
    runner_status: str | None = None
    rc: int | None = None
    deadline: str | None = None
    cancel_reason: str | None = None
    limit: str | None = None
    forced_window: bool = False
    hosts: dict[str, HostResult] = field(default_factory=dict)
    stats_data: dict[str, Any] = field(default_factory=dict)
    previous: dict[str, Any] | None = None
    artifacts: str | None = None
    run_id: str | None = None
    took_over: str | None = None

    def record_event(self, event: dict[str, Any]) -> None:
        """Fold one ansible-runner event into the report."""
        data = event.get("event_data", {})
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            if data.get("ignore_errors"):
                return
            # Keep the last failure: a rescued one is followed by the failure that halted the host.
            host = self.hosts.setdefault(data.get("host", "?"), HostResult())
            host.failed_task = data.get("task")
            host.message = str(data.get("res", {}).get("msg", ""))[:1000]
        elif event.get("event") == "playbook_on_stats":
            self._record_stats(data)

    def _record_stats(self, data: dict[str, Any]) -> None:
        keys = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable",
                "skipped": "skipped", "rescued": "rescued"}
        for stats_key, attr in keys.items():
            for host, count in (data.get(stats_key) or {}).items():
                setattr(self.hosts.setdefault(host, HostResult()), attr, count)
        self.stats_data = data.get("artifact_data") or {}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name, host in self.hosts.items():
            data["hosts"][name]["state"] = host.state
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunReport:
        hosts = {
            name: HostResult(**{k: v for k, v in h.items() if k != "state"})
            for name, h in data.get("hosts", {}).items()
        }
        return cls(**{**data, "hosts": hosts})

    def summary(self) -> str:
        lines = [f"rollout {self.outcome}: {self.playbook} on {self.inventory}"
                 f" ({self.started} -> {self.finished or '-'})"]
        if self.cancel_reason:
            lines.append(f"  cancelled: {self.cancel_reason}")
        if self.forced_window:
            lines.append("  maintenance window OVERRIDDEN (colostack_force_window=true)")
        if self.took_over:
            lines.append(f"  took over the stale rollout lock of {self.took_over}")
        for name, host in sorted(self.hosts.items()):
            line = f"  {name}: {host.state} (ok={host.ok} changed={host.changed})"
            if host.failed_task:
                # One line per host: a message that spans lines would read as the whole run's.
                line += f" at task '{host.failed_task}': {' '.join((host.message or '').split())}"
            lines.append(line)
        if self.outcome == "halted":
            lines.append("  hosts not listed were not reached")
        return "\n".join(lines)


def write_report(report: RunReport, report_dir: Path) -> Path:
    """Write <stamp>.json and .txt, and refresh last.json for the next run to read."""
    report_dir.mkdir(parents=True, exist_ok=True)
    stem = "rollout-" + report.started.replace(":", "").replace("-", "").replace("+0000", "Z")
    path = report_dir / f"{stem}.json"
    text = json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n"
    atomic_write_text(path, text)
    atomic_write_text(report_dir / f"{stem}.txt", report.summary() + "\n")
    atomic_write_text(report_dir / LAST, text)
    return path


def load_last_report(report_dir: Path) -> RunReport | None:
    path = report_dir / LAST
    if not path.exists():
        return None
    try:
        return RunReport.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ReportError(f"cannot read the previous run's report {path} ({exc}); move it "
                          "aside to start without it") from None
