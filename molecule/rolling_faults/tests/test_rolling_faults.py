"""Faults injected into playbooks/rolling_driver_update.yml, one host at a time (see molecule.yml).

Each test drives the real playbook from the controller and then reads the hosts (packages, holds,
the state file, the drain flag, the workload unit) and the controller's run report. The tests run
in file order: the last one rolls the whole fleet back to 550 with serial [1, 3].
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import testinfra
import yaml

A, B = "550.163.01", "570.172.08"
PACKAGES = ("nvidia-open", "nvidia-kernel-open-dkms", "libnvidia-ml1", "nvidia-smi", "nvidia-fabricmanager")
STATE = "/var/lib/colostack/rollout-state.json"
REPO = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
REPORT = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "rollout-report.jsonl"
PLAYBOOK = REPO / "playbooks" / "rolling_driver_update.yml"


def host(name: str) -> Any:
    return testinfra.get_host(f"podman://{name}")


def command(target: str, hosts: str, *extra: str) -> list[str]:
    return ["ansible-playbook", str(PLAYBOOK), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
            "-e", f"rolling_update_driver_version={target}", "-e", f"rolling_update_hosts={hosts}",
            "-e", "colostack_force_window=true", *extra]


def rollout(target: str, hosts: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(target, hosts, *extra), capture_output=True, text=True,
                          timeout=1200, check=False, cwd=REPO)


def colostack_rollout(target: str, hosts: str, reports: Path, **extra: Any) -> tuple[int, dict[str, Any]]:
    """The same playbook through `colostack rollout` (ansible-runner); returns exit code and report."""
    extravars = {"rolling_update_driver_version": target, "rolling_update_hosts": hosts,
                 "colostack_force_window": True, **extra}
    done = subprocess.run(
        ["colostack", "rollout", str(PLAYBOOK), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
         "-e", json.dumps(extravars), "--report-dir", str(reports), "--project-dir", str(REPO)],
        capture_output=True, text=True, timeout=1200, check=False, cwd=REPO)
    last = reports / "last.json"
    assert last.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    report: dict[str, Any] = json.loads(last.read_text())
    return done.returncode, report


def versions(h: Any) -> set[str]:
    return set(h.check_output("dpkg-query -W -f='${Version}\\n' " + " ".join(PACKAGES)).split())


def state(h: Any) -> dict[str, Any]:
    return json.loads(h.file(STATE).content_string)


def events(name: str) -> list[dict[str, Any]]:
    lines = REPORT.read_text().splitlines() if REPORT.exists() else []
    return [e for e in map(json.loads, lines) if e["host"] == name]


def pid1_start(name: str) -> str:
    return host(name).check_output("awk '{print $22}' /proc/1/stat")


def wait_running(name: str) -> None:
    for _ in range(60):
        done = subprocess.run(["podman", "exec", name, "systemctl", "is-system-running"],
                              capture_output=True, text=True, check=False)
        if done.stdout.strip() in ("running", "degraded"):
            return
        time.sleep(1)
    pytest.fail(f"{name} did not boot")


def test_failing_package_install_rolls_back_to_a_clean_branch_a_and_returns_to_service(tmp_path: Path):
    code, report = colostack_rollout(B, "rf-dkms", tmp_path)
    assert code == 1  # halted
    failed = report["hosts"]["rf-dkms"]
    assert failed["state"] == "failed"
    assert failed["failed_task"] == "Halt the rollout"
    assert "ROLLOUT HALTED at rf-dkms (Install driver" in failed["message"]
    assert "rolled back to 550.163.01, healthy, back in service" in failed["message"]
    assert [e["state"] for e in report["stats_data"]["rolling_update_events"]][-1] == "rolled_back"
    h = host("rf-dkms")
    assert versions(h) == {f"{A}-1"}
    assert h.run("dpkg --audit").stdout == ""  # no half-configured package left behind
    assert set(PACKAGES) <= set(h.check_output("apt-mark showhold").split())
    s = state(h)
    assert (s["state"], s["from"], s["to"]) == ("rolled_back", A, B)
    assert "updating" in [e["state"] for e in s["history"]]
    assert s["history"][-1]["event"] == "undrain"
    assert not h.file("/etc/colostack-drained").exists
    assert h.service("gpu-workload").is_running


def test_fabric_manager_missing_at_the_target_refuses_before_drain_and_changes_nothing():
    h = host("rf-fm")
    pin_before = h.file("/etc/apt/preferences.d/colostack-nvidia-driver").content_string
    run = rollout(B, "rf-fm")
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "no apt source offers nvidia-fabricmanager at that version" in out
    assert "nothing changed on the driver" in out
    assert versions(h) == {f"{A}-1"}
    assert h.file("/etc/apt/preferences.d/colostack-nvidia-driver").content_string == pin_before
    s = state(h)
    assert s["state"] == "failed"
    assert [e["state"] for e in s["history"]] == ["admitted", "failed"]
    assert all(e["event"] not in ("drain", "left_drained") for e in s["history"])
    assert not h.file("/etc/colostack-drained").exists
    assert h.service("gpu-workload").is_running


def test_reboot_timeout_halts_then_a_rerun_resumes_the_host_once_it_is_back():
    boot_before = pid1_start("rf-reboot")
    extra = ("-e", "rolling_update_reboot=always", "-e", "rolling_update_reboot_timeout=30")
    run = rollout(B, "rf-reboot", *extra)
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "ROLLOUT HALTED at rf-reboot" in out and "the host does not answer" in out
    assert events("rf-reboot")[-1]["state"] == "failed"
    assert events("rf-reboot")[-1]["event"] == "unreachable"
    down = subprocess.run(["podman", "inspect", "-f", "{{.State.Running}}", "rf-reboot"],
                          capture_output=True, text=True, check=True)
    assert down.stdout.strip() == "false"

    subprocess.run(["podman", "start", "rf-reboot"], check=True, capture_output=True)  # the operator's fix
    wait_running("rf-reboot")
    assert pid1_start("rf-reboot") != boot_before
    h = host("rf-reboot")
    assert state(h)["state"] == "updating"  # what the host recorded before it went down

    again = rollout(B, "rf-reboot", *extra)
    assert again.returncode == 0, again.stdout[-3000:]
    s = state(h)
    assert (s["state"], s["from"], s["to"]) == ("done", A, B)
    assert [e["event"] for e in s["history"]].count("reboot") == 1  # booted since: not rebooted again
    assert versions(h) == {f"{B}-1"}
    assert not h.file("/etc/colostack-drained").exists
    assert h.service("gpu-workload").is_running


def test_controller_killed_mid_update_then_a_rerun_resumes_and_finishes():
    boot_before = pid1_start("rf-kill")
    extra = ("-e", "rolling_update_reboot=always", "-e", "rolling_update_reboot_timeout=300")
    proc = subprocess.Popen(command(B, "rf-kill", *extra), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while "updating" not in [e["state"] for e in events("rf-kill")]:
            assert proc.poll() is None, "the rollout ended before the host reached 'updating'"
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    h = host("rf-kill")
    assert state(h)["state"] in ("updating", "validating")
    assert h.file("/etc/colostack-drained").exists

    again = rollout(B, "rf-kill", *extra)
    assert again.returncode == 0, again.stdout[-3000:]
    s = state(h)
    assert (s["state"], s["from"], s["to"]) == ("done", A, B)
    states = [e["state"] for e in s["history"]]
    assert states.count("admitted") == 2  # admitted by the killed run, then again by the resume
    assert "reboot" in [e["event"] for e in s["history"]]
    assert pid1_start("rf-kill") != boot_before  # the reboot happened and the host came back
    assert versions(h) == {f"{B}-1"}
    assert not h.file("/etc/colostack-drained").exists
    assert h.service("gpu-workload").is_running


def test_fleet_rollback_to_550_with_serial_list_runs_a_canary_then_a_wider_batch(tmp_path: Path):
    for name in ("rf-dkms", "rf-fm"):  # the operator clears the hosts the fault runs left refused
        host(name).run(f"rm -f {STATE}")
    inventory = yaml.safe_load(Path(os.environ["MOLECULE_INVENTORY_FILE"]).read_text())
    order = list(inventory["gpu_nodes"]["hosts"])
    canary, wider = order[:1], order[1:]
    movers = {"rf-reboot", "rf-kill"}  # on 570 before this run; rf-dkms and rf-fm already run 550
    assert movers <= set(wider), order

    code, report = colostack_rollout(A, "gpu_nodes", tmp_path, rolling_update_serial=[1, 3])
    assert code == 0, report
    assert {e["host"] for e in report["stats_data"]["rolling_update_events"] if e["state"] == "done"} == set(order)
    for name in order:
        h = host(name)
        assert versions(h) == {f"{A}-1"}, name
        assert (state(h)["state"], state(h)["to"]) == ("done", A), name
    fleet = [e for e in map(json.loads, REPORT.read_text().splitlines()) if e["to"] == A]
    times = {name: [e["time"] for e in fleet if e["host"] == name] for name in order}
    # The canary batch ends before the wider batch starts.
    assert max(times[canary[0]]) < min(t for name in wider for t in times[name])
    # Hosts already on 550 are recorded done without a drain.
    assert {e["host"] for e in fleet if e["event"] == "already_at_target"} == set(order) - movers
    # The two movers are drained at the same time: one batch, not one after the other.
    drains = {e["host"]: e["time"] for e in fleet if e["event"] == "drain"}
    undrains = {e["host"]: e["time"] for e in fleet if e["event"] == "undrain"}
    assert set(drains) == set(undrains) == movers
    assert max(drains.values()) < min(undrains.values())
