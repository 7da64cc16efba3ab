"""Run a playbook with ansible-runner off the main thread, cancelled by an event or a deadline."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from colostack.rollout.lock import DEFAULT_LOCK_FILE, Holder, RolloutLock
from colostack.rollout.report import RunReport, load_last_report

FORCE_VAR = "colostack_force_window"
# ansible-runner turns host-key checking off unless told; rollouts are privileged runs over SSH.
ENVVARS = {"ANSIBLE_HOST_KEY_CHECKING": "True"}


@dataclass
class RolloutConfig:
    playbook: Path
    inventory: Path
    report_dir: Path
    project_dir: Path
    extravars: dict[str, Any] = field(default_factory=dict)
    limit: str | None = None
    deadline: datetime | None = None
    lock_file: Path = DEFAULT_LOCK_FILE
    take_over: bool = False


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _is_true(value: Any) -> bool:
    return str(value).lower() in ("true", "yes", "1")


def run_rollout(
    config: RolloutConfig,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime] = _now,
    observe: Callable[[dict[str, Any]], None] | None = None,
) -> RunReport:
    """Run the playbook under the controller's rollout lock; cancel on `stop` or the deadline.

    `observe` sees every runner event as it happens (on the runner's thread), for progress.

    Raises LockError, before anything runs, while another rollout holds the lock or a dead one
    left it (unless `config.take_over`). ansible-runner's default cancel handling installs a
    signal handler, which only works in the main thread; this callback works from any thread.
    """
    holder = Holder.current(str(config.playbook))
    with RolloutLock(config.lock_file, holder, config.take_over) as lock:
        return _run_locked(config, holder, lock, stop or threading.Event(), clock,
                           observe=observe)


def _run_locked(
    config: RolloutConfig,
    holder: Holder,
    lock: RolloutLock,
    stop: threading.Event,
    clock: Callable[[], datetime],
    *,
    observe: Callable[[dict[str, Any]], None] | None,
) -> RunReport:
    import ansible_runner  # noqa: PLC0415  (only control nodes install the [control] extra)

    previous = load_last_report(config.report_dir)
    started = clock()
    report = RunReport(
        playbook=str(config.playbook), inventory=str(config.inventory),
        started=started.isoformat(), limit=config.limit,
        deadline=config.deadline.isoformat() if config.deadline else None,
        forced_window=_is_true(config.extravars.get(FORCE_VAR, False)),
        previous={"outcome": previous.outcome, "started": previous.started,
                  "hosts": {h: r.state for h, r in previous.hosts.items()}} if previous else None,
    )
    report.run_id = holder.run_id
    if lock.taken_over is not None:
        report.took_over = lock.taken_over.describe()
    # The playbooks' guard checks that the lock's holder is this run, and records it as the owner
    # of every host it changes.
    extravars = {**config.extravars, "colostack_rollout_run_identity": holder.__dict__.copy(),
                 "colostack_rollout_lock_file": str(config.lock_file)}
    if config.take_over:
        extravars["colostack_rollout_takeover"] = True
    if previous is not None:
        extravars["colostack_rollout_previous_report"] = str(config.report_dir / "last.json")

    def cancel() -> bool:
        if stop.is_set():
            report.cancel_reason = report.cancel_reason or "stop requested"
            return True
        if config.deadline is not None and clock() >= config.deadline:
            report.cancel_reason = f"deadline {config.deadline.isoformat()} reached"
            return True
        return False

    def on_event(event: dict[str, Any]) -> bool:
        report.record_event(event)
        if observe is not None:
            observe(event)
        return True

    # A fresh private data dir per run: ansible-runner would otherwise replay the extravars
    # it saved there last time. Artifacts (events, stdout) are kept under the report dir.
    with tempfile.TemporaryDirectory(prefix="colostack-rollout-") as private:
        thread, runner = ansible_runner.run_async(
            private_data_dir=private,
            artifact_dir=str((config.report_dir / "artifacts").resolve()),
            project_dir=str(config.project_dir.resolve()),
            playbook=str(config.playbook.resolve()),
            inventory=str(config.inventory.resolve()),
            extravars=extravars,
            envvars=ENVVARS,
            limit=config.limit,
            cancel_callback=cancel,
            event_handler=on_event,
            quiet=True,
            rotate_artifacts=20,
            settings={"pexpect_timeout": 1, "suppress_env_files": True},
        )
        thread.join()
    report.finished = clock().isoformat()
    report.runner_status, report.rc = runner.status, runner.rc
    report.artifacts = str(runner.config.artifact_dir)
    if runner.status == "canceled":
        report.outcome = "cancelled"
    elif runner.status == "successful" and runner.rc == 0:
        report.outcome = "succeeded"
    else:
        report.outcome = "halted"
    return report
