"""Faults injected into playbooks/rolling_driver_update.yml (see molecule.yml).

Each test drives the real playbook from the controller and then reads the hosts (packages, holds,
the state file, the drain flag, the workload unit) and the controller's run report. The tests run
in file order and share the fleet: first one fault per host, then the fleet back to 550 with
serial [1, 3], then the batch cases on all four hosts with clean repositories.
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
import yaml
from conftest import ssh_host

A, B = "550.163.01", "570.172.08"
PACKAGES = ("nvidia-open", "nvidia-kernel-open-dkms", "libnvidia-ml1", "nvidia-smi", "nvidia-fabricmanager")
STATE = "/var/lib/colostack/rollout-state.json"
REPO = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
REPORT = EPHEMERAL / "rollout-report.jsonl"
LOCK = EPHEMERAL / "rollout.lock"
PLAYBOOK = REPO / "playbooks" / "rolling_driver_update.yml"
HOSTS = ("rf-dkms", "rf-fm", "rf-kill", "rf-reboot")  # inventory order: the order of the batches
REPLAY = "/var/lib/colostack/replay"
AFTER_WINDOW = "2026-06-06T07:30+02:00"  # Saturday, after Sat 02:00 + 4h Europe/Berlin


def host(name: str) -> Any:
    return ssh_host(name)


def desire(target: str) -> None:
    """Change the driver version in the inventory, as an operator does before a rollout."""
    group_vars = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent / "group_vars" / "gpu_nodes"
    wanted = yaml.safe_load(group_vars.read_text())
    wanted["nvidia_driver_version"] = target
    group_vars.write_text(yaml.safe_dump(wanted))


def command(target: str, hosts: str, *extra: str) -> list[str]:
    desire(target)
    return ["ansible-playbook", str(PLAYBOOK), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
            "-e", f"rolling_update_hosts={hosts}", *extra]


def rollout(target: str, hosts: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(target, hosts, *extra), capture_output=True, text=True,
                          timeout=1200, check=False, cwd=REPO)


def colostack_rollout(target: str, hosts: str, reports: Path, **extra: Any) -> tuple[int, dict[str, Any]]:
    """The same playbook through `colostack rollout` (ansible-runner); returns exit code and report."""
    done = subprocess.run(rollout_command(target, hosts, reports, **extra),
                          capture_output=True, text=True, timeout=1200, check=False, cwd=REPO)
    last = reports / "last.json"
    assert last.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    report: dict[str, Any] = json.loads(last.read_text())
    return done.returncode, report


def rollout_command(target: str, hosts: str, reports: Path, *flags: str, playbook: Path = PLAYBOOK,
                    **extra: Any) -> list[str]:
    desire(target)
    extravars = {"rolling_update_hosts": hosts, **extra}
    return ["colostack", "rollout", str(playbook), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
            "-e", json.dumps(extravars), "--report-dir", str(reports), "--project-dir", str(REPO),
            "--lock-file", str(LOCK), *flags]


def versions(h: Any) -> set[str]:
    return set(h.check_output("dpkg-query -W -f='${Version}\\n' " + " ".join(PACKAGES)).split())


def state(h: Any) -> dict[str, Any]:
    return json.loads(h.file(STATE).content_string)


def events(name: str, since: int = 0) -> list[dict[str, Any]]:
    """The controller report's events for one host, from line `since` on."""
    lines = REPORT.read_text().splitlines() if REPORT.exists() else []
    return [e for e in map(json.loads, lines[since:]) if e["host"] == name]


def report_length() -> int:
    return len(REPORT.read_text().splitlines()) if REPORT.exists() else 0


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
    assert failed["failed_task"] == "Fail each host that did not reach the target"
    assert "ROLLOUT HALTED at rf-dkms (Install the pinned version of nvidia-driver" in failed["message"]
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
    extra = ("-e", "rolling_update_reboot=always", "-e", "rolling_update_reboot_timeout=60",
             "-e", "rolling_update_reconnect_timeout=5")
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


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found.extend(kids)
        todo.extend(kids)
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a controller and everything it started (ansible-runner runs the playbook in its own
    session), as a power cut or an OOM kill of the control node would."""
    for victim in [pid, *descendants(pid)]:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_controller_killed_mid_update_leaves_a_stale_lock_and_a_takeover_resumes(tmp_path: Path):
    boot_before = pid1_start("rf-kill")
    reports = tmp_path / "reports"
    extra = {"rolling_update_reboot": "always", "rolling_update_reboot_timeout": 300}
    proc = subprocess.Popen(rollout_command(B, "rf-kill", reports, **extra), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while "updating" not in [e["state"] for e in events("rf-kill")]:
            assert proc.poll() is None, "the rollout ended before the host reached 'updating'"
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        kill_tree(proc.pid)
        proc.wait()
    h = host("rf-kill")
    assert state(h)["state"] in ("updating", "validating")
    assert state(h)["owner"]["pid"] == proc.pid  # the dead run owns the host
    assert h.file("/etc/colostack-drained").exists

    refused = subprocess.run(rollout_command(B, "rf-kill", reports, **extra), cwd=REPO,
                             capture_output=True, text=True, timeout=300, check=False)
    assert refused.returncode == 4
    assert refused.stderr.strip().count("\n") == 0  # one line
    assert "stale rollout lock" in refused.stderr and f"pid {proc.pid}" in refused.stderr
    assert state(h)["state"] in ("updating", "validating")  # nothing touched

    again = subprocess.run(rollout_command(B, "rf-kill", reports, "--take-over", **extra), cwd=REPO,
                           capture_output=True, text=True, timeout=1200, check=False)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    report = json.loads((reports / "last.json").read_text())
    assert f"pid {proc.pid}" in report["took_over"]
    s = state(h)
    assert (s["state"], s["from"], s["to"]) == ("done", A, B)
    assert s["owner"]["run_id"] == report["run_id"]
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

    code, report = colostack_rollout(A, "gpu_nodes", tmp_path, rolling_update_serial=[1, 3],
                                     rolling_update_max_drained=3)
    assert code == 0, report
    assert {e["host"] for e in report["stats_data"]["rolling_update_events"] if e["state"] == "done"} == set(order)
    for name in order:
        h = host(name)
        assert versions(h) == {f"{A}-1"}, name
        assert (state(h)["state"], state(h)["to"]) == ("done", A), name
    fleet = [e for e in map(json.loads, REPORT.read_text().splitlines()) if e.get("to") == A]
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


# ---- Batch cases: all four hosts can move (clean repositories from here on). Failures are
# injected per host: a post-update recording at 60 % HBM bandwidth (the rollback validates with it
# too, so the host stays drained), or a clock outside the host's maintenance window.

def set_after(name: str, recording: str) -> None:
    host(name).run(f"cp {REPLAY}/{recording}.json {REPLAY}/after.json")


def reset(name: str) -> None:
    """What the operator does after looking at a failed host: healthy again, back in service."""
    set_after(name, "healthy")
    host(name).run(f"rm -f {STATE} /etc/colostack-drained && systemctl start gpu-workload")


def said(run: subprocess.CompletedProcess[str]) -> str:
    """Everything the run printed, with line breaks and indentation folded to single spaces."""
    return " ".join((run.stdout + run.stderr).split())


def closed_windows(tmp_path: Path, *names: str) -> Path:
    """A second inventory source whose clock is past the window end for these hosts."""
    path = tmp_path / "closed-windows.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": {
        n: {"colostack_window_now": AFTER_WINDOW} for n in names}}}))
    return path


def serving(name: str) -> bool:
    h = host(name)
    return not h.file("/etc/colostack-drained").exists and h.service("gpu-workload").is_running


def left_drained(name: str) -> bool:
    h = host(name)
    return h.file("/etc/colostack-drained").exists and not h.service("gpu-workload").is_running


def test_clean_repositories_for_the_batch_cases():
    for name in ("rf-dkms", "rf-fm"):
        h = host(name)
        h.check_output("rm -rf /srv/nvidia-repo-standin && /opt/build_repo.py /srv/nvidia-repo-standin"
                       " && cp /srv/nvidia-repo-standin/standin-archive-key.asc"
                       " /etc/apt/keyrings/nvidia-cuda.asc")
    for name in HOSTS:
        reset(name)
        assert versions(host(name)) == {f"{A}-1"}, name
        assert serving(name), name


def test_serial_1_2_failure_on_the_second_host_of_the_second_batch_halts_before_the_third(
    tmp_path: Path,
):
    """Batches [rf-dkms], [rf-fm, rf-kill], [rf-reboot]; rf-kill fails validation after the update.

    Also: a second rollout and a firmware rollout started meanwhile are refused at once.
    """
    set_after("rf-kill", "bandwidth-60pct")
    since = report_length()
    reports = tmp_path / "reports"
    first = subprocess.Popen(
        rollout_command(B, "gpu_nodes", reports, rolling_update_serial=[1, 2],
                        rolling_update_max_drained=2),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not events("rf-dkms", since):  # the first run has taken the lock and started
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.5)
    second = subprocess.run(rollout_command(B, "gpu_nodes", tmp_path / "second"), cwd=REPO,
                            capture_output=True, text=True, timeout=120, check=False)
    firmware = subprocess.run(
        rollout_command(B, "gpu_nodes", tmp_path / "fw",
                        playbook=REPO / "playbooks" / "firmware_rollout.yml"),
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    out, _ = first.communicate(timeout=1500)
    for refused in (second, firmware):
        assert refused.returncode == 4
        assert refused.stderr.startswith("rollout refused: another rollout holds")
        assert f"pid {first.pid}" in refused.stderr and "rolling_driver_update.yml" in refused.stderr
    assert not (tmp_path / "second").exists() and not (tmp_path / "fw").exists()

    assert first.returncode == 1, out[-3000:]  # halted
    report = json.loads((reports / "last.json").read_text())
    assert report["outcome"] == "halted"
    assert report["hosts"]["rf-kill"]["failed_task"] == "Fail each host that did not reach the target"
    assert "ROLLOUT HALTED at rf-kill" in report["hosts"]["rf-kill"]["message"]
    assert "still unhealthy, left drained" in report["hosts"]["rf-kill"]["message"]
    for name in ("rf-dkms", "rf-fm"):  # the canary and the failed host's batch-mate
        assert versions(host(name)) == {f"{B}-1"}, name
        assert state(host(name))["state"] == "done", name
        assert serving(name), name
    kill = host("rf-kill")
    assert versions(kill) == {f"{A}-1"}
    assert state(kill)["state"] == "rolled_back"
    assert left_drained("rf-kill")
    assert events("rf-kill", since)[-1]["event"] == "left_drained"
    assert "Run the GPU validation" in events("rf-kill", since)[-1]["reason"]
    assert events("rf-reboot", since) == []  # the third batch never started
    assert versions(host("rf-reboot")) == {f"{A}-1"} and serving("rf-reboot")
    reset("rf-kill")


def test_batch_of_two_failure_on_the_first_host_rolls_it_back_and_the_mate_finishes():
    # Now: rf-dkms and rf-fm on 570, rf-kill and rf-reboot on 550.
    set_after("rf-kill", "bandwidth-60pct")
    since = report_length()
    run = rollout(B, "rf-kill:rf-reboot", "-e", "rolling_update_serial=2",
                  "-e", "rolling_update_max_drained=2")
    assert run.returncode != 0
    out = said(run)
    assert "ROLLOUT HALTED at rf-kill" in out  # its rescue ran inside a batch of two
    assert "ROLLOUT HALTED after this batch: the canary batch had 1 failed host(s)" in out
    assert versions(host("rf-kill")) == {f"{A}-1"} and left_drained("rf-kill")
    assert state(host("rf-kill"))["state"] == "rolled_back"
    assert versions(host("rf-reboot")) == {f"{B}-1"} and serving("rf-reboot")
    assert state(host("rf-reboot"))["state"] == "done"
    # Both were drained together: one batch.
    drains = {e["host"]: e["time"] for name in ("rf-kill", "rf-reboot")
              for e in events(name, since) if e["event"] == "drain"}
    ends = [e["time"] for name in ("rf-kill", "rf-reboot") for e in events(name, since)
            if e["event"] in ("undrain", "left_drained")]
    assert set(drains) == {"rf-kill", "rf-reboot"} and max(drains.values()) < min(ends)
    reset("rf-kill")


def test_batch_of_three_failure_in_the_middle_only_that_host_rolls_back():
    # Now: rf-kill on 550, the others on 570. Back to 550 in one batch of three; rf-fm fails.
    set_after("rf-fm", "bandwidth-60pct")
    run = rollout(A, "rf-dkms:rf-fm:rf-reboot", "-e", "rolling_update_serial=3",
                  "-e", "rolling_update_max_drained=3")
    assert run.returncode != 0
    assert "ROLLOUT HALTED at rf-fm" in said(run)
    for name in ("rf-dkms", "rf-reboot"):
        assert versions(host(name)) == {f"{A}-1"} and serving(name), name
        assert state(host(name))["state"] == "done", name
    assert versions(host("rf-fm")) == {f"{B}-1"}  # rolled back to where it was: 570
    assert state(host("rf-fm"))["state"] == "rolled_back" and left_drained("rf-fm")
    assert set(PACKAGES) <= set(host("rf-fm").check_output("apt-mark showhold").split())
    reset("rf-fm")
    # Once healthy, the operator's re-run moves it like any other host.
    again = rollout(A, "rf-fm")
    assert again.returncode == 0, again.stdout[-3000:]
    assert versions(host("rf-fm")) == {f"{A}-1"} and serving("rf-fm")


def test_a_budget_of_one_halts_after_the_batch_with_the_second_failure(tmp_path: Path):
    # Now: all on 550. rf-fm's and rf-kill's clocks are past their window end.
    since = report_length()
    run = rollout(B, "gpu_nodes", "-i", str(closed_windows(tmp_path, "rf-fm", "rf-kill")),
                  "-e", "rolling_update_failure_budget=1")
    assert run.returncode != 0
    out = said(run)
    assert "rf-fm refused: " in out and "rf-kill refused: " in out
    assert ("ROLLOUT HALTED after this batch: 2 failed host(s) of 3 attempted exceed the failure "
            "budget of 1") in out
    assert versions(host("rf-dkms")) == {f"{B}-1"}  # the canary went on
    for name in ("rf-fm", "rf-kill"):  # refused before admission: nothing recorded or drained
        assert events(name, since) == [] and serving(name), name
        assert versions(host(name)) == {f"{A}-1"}, name
    assert events("rf-reboot", since) == []  # the batch after the second failure never started
    assert versions(host("rf-reboot")) == {f"{A}-1"} and serving("rf-reboot")


def test_a_host_outside_its_window_is_refused_and_a_budget_of_one_lets_the_rollout_go_on(
    tmp_path: Path,
):
    # Now: rf-dkms on 570, the others on 550. rf-fm's clock is past its window end.
    since = report_length()
    pins = host("rf-fm").file("/etc/apt/preferences.d/colostack-nvidia-driver").content_string
    run = rollout(B, "gpu_nodes", "-i", str(closed_windows(tmp_path, "rf-fm")),
                  "-e", "rolling_update_failure_budget=1")
    assert run.returncode != 0  # a host failed, but within the budget
    out = said(run)
    assert "rf-fm refused: " in out and "next window starts 2026-06-13" in out
    assert "ROLLOUT HALTED after this batch" not in out
    assert events("rf-fm", since) == []
    fm = host("rf-fm")
    assert versions(fm) == {f"{A}-1"} and serving("rf-fm")
    assert fm.file("/etc/apt/preferences.d/colostack-nvidia-driver").content_string == pins
    # The batches after the refused host ran.
    for name in ("rf-kill", "rf-reboot"):
        assert versions(host(name)) == {f"{B}-1"} and state(host(name))["state"] == "done", name


def test_a_host_left_drained_defers_hosts_the_batch_has_no_room_for():
    # Now: rf-fm on 550, the others on 570. Back to 550 with a budget of 1 and serial 1:
    # rf-fm needs no drain (already on 550); rf-kill fails validation and stays drained; the last
    # batch (one host) may drain no one, so rf-reboot is deferred.
    set_after("rf-kill", "bandwidth-60pct")
    since = report_length()
    run = rollout(A, "gpu_nodes", "-e", "rolling_update_failure_budget=1")
    assert run.returncode != 0
    out = said(run)
    assert "HOST FAILED (counted against the failure budget) at rf-kill" in out
    assert "ROLLOUT HALTED after this batch" not in out
    assert ("DEFERRED rf-reboot: a batch never drains more hosts than its size (1), and rf-kill "
            "is left drained") in out
    assert events("rf-fm", since) == []  # done at 550 already: nothing to record
    assert [e["event"] for e in events("rf-reboot", since)] == ["deferred"]
    assert serving("rf-reboot") and versions(host("rf-reboot")) == {f"{B}-1"}
    assert left_drained("rf-kill") and state(host("rf-kill"))["state"] == "rolled_back"
    assert versions(host("rf-dkms")) == {f"{A}-1"}
    reset("rf-kill")


@pytest.mark.parametrize(("content", "message"), [
    ('{"state": "updating", "from": "550.1', "is not valid JSON"),
    ('{"state": "upgrading", "from": "550.163.01", "to": "570.172.08", "history": []}',
     "has unknown state 'upgrading'"),
])
def test_a_corrupt_host_state_file_stops_the_rollout_before_any_change(content: str, message: str):
    fm = host("rf-fm")
    fm.run(f"cp {STATE} {STATE}.good || true")
    fm.run(f"printf '%s' '{content}' > {STATE}")
    before = {n: host(n).file(STATE).content_string if host(n).file(STATE).exists else "" for n in HOSTS}
    since = report_length()
    run = rollout(A, "gpu_nodes", "-e", "rolling_update_failure_budget=1")
    assert run.returncode != 0
    out = said(run)
    assert f"ROLLOUT HALTED: rollout state rf-fm:{STATE} " in out and message in out
    assert "nothing was changed on the host" in out
    assert "Traceback" not in out
    assert report_length() == since  # no host was admitted
    assert {n: host(n).file(STATE).content_string if host(n).file(STATE).exists else "" for n in HOSTS} == before
    fm.run(f"mv {STATE}.good {STATE} || rm -f {STATE}")
