"""playbooks/firmware_rollout.yml against the Redfish TEST EMULATOR (tests/fixtures/), with the
real community.general redfish modules, for the happy path and each fault switch. The drain and
undrain are the STAND-IN task files in tests/fixtures/firmware_drain (a marker file and a log
line carrying the emulated BMC's state at that moment), not vLLM's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from ssl import create_default_context
from typing import Any

import pytest
import yaml

from colostack.cli import main

REPO = Path(__file__).resolve().parents[2]
EMULATOR = REPO / "tests" / "fixtures" / "redfish_emulator" / "emulator.py"
PLAYBOOK = REPO / "playbooks" / "firmware_rollout.yml"
DRAIN_STANDIN = REPO / "tests" / "fixtures" / "firmware_drain"
GPU_IMAGE = {"HGX_FW_GPU_0": "96.00.AF.00.01", "HGX_FW_BMC_0": "24.10-1"}
CX7_IMAGE = {"CX7_0": "28.43.1014"}
IN_WINDOW = "2026-06-06T03:00+02:00"  # Saturday, inside Sat 02:00 + 4h Europe/Berlin

# Whole rollouts with real waits (3 min on 2 cores): make test runs them, the quick lane does not.
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")]


class Emulator:
    def __init__(self, proc: subprocess.Popen[str], port: int, cert: Path) -> None:
        self.proc, self.port, self.cert = proc, port, cert

    def state(self) -> dict[str, Any]:
        url = f"https://127.0.0.1:{self.port}/emulator/state"
        with urllib.request.urlopen(url, context=create_default_context(cafile=self.cert)) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data


@pytest.fixture
def cert(tmp_path: Path) -> Path:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )
    return tmp_path / "cert.pem"


@pytest.fixture
def emulator(cert: Path) -> Iterator[Callable[[str], Emulator]]:
    started: list[Emulator] = []

    def start(fault: str = "none") -> Emulator:
        proc = subprocess.Popen(
            [sys.executable, str(EMULATOR), "--port", "0", "--fault", fault,
             "--cert", str(cert), "--key", str(cert.parent / "key.pem")],
            stdout=subprocess.PIPE, text=True,
        )
        assert proc.stdout is not None
        port = int(proc.stdout.readline().strip().removeprefix("port="))
        started.append(Emulator(proc, port, cert))
        return started[-1]

    yield start
    for emu in started:
        emu.proc.terminate()
        emu.proc.wait(timeout=10)


def inventory(
    tmp_path: Path, cert: Path, bmcs: dict[str, Emulator], packages: int = 1, **extra: Any
) -> Path:
    """Inventory for the emulated BMCs; `packages` = 1 flashes the GPU bundle, 2 adds the NIC."""
    (tmp_path / "gpu.json").write_text(json.dumps(GPU_IMAGE))
    (tmp_path / "cx7.json").write_text(json.dumps(CX7_IMAGE))
    group_vars = {
        "firmware_rollout_bmc_username": "admin",
        "firmware_rollout_bmc_password": "emulator-accepts-anything",
        "firmware_rollout_bmc_ca_path": str(cert),
        "firmware_rollout_poll_delay": 1,
        "firmware_rollout_task_timeout": 10,
        "firmware_rollout_bmc_timeout": 10,
        "firmware_rollout_host_boot_delay": 0,
        "firmware_rollout_validate": False,  # no GPU here; the validator runs on real hosts
        "firmware_rollout_packages": [
            {"name": "hgx-gpu-bundle", "image_file": str(tmp_path / "gpu.json"),
             "versions": GPU_IMAGE},
            {"name": "cx7-nic", "image_uri": f"file://{tmp_path / 'cx7.json'}",
             "versions": CX7_IMAGE},
        ][:packages],
        "colostack_maintenance_window": {"start": "Sat 02:00", "duration": "4h",
                                         "timezone": "Europe/Berlin"},
        "colostack_window_now": IN_WINDOW,
        "firmware_rollout_drain_tasks": str(DRAIN_STANDIN / "drain.yml"),
        "firmware_rollout_undrain_tasks": str(DRAIN_STANDIN / "undrain.yml"),
        "firmware_rollout_report_file": str(tmp_path / "rollouts" / "firmware_rollout.jsonl"),
        "firmware_test_dir": str(tmp_path),
        "colostack_rollout_lock_file": str(tmp_path / "rollout.lock"),
        **extra,
    }
    hosts = {
        name: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
               "firmware_rollout_bmc_uri": f"127.0.0.1:{emu.port}"}
        for name, emu in bmcs.items()
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(
        {"all": {"children": {"gpu_nodes": {"hosts": hosts, "vars": group_vars}}}}))
    return path


def playbook(inv: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", ANSIBLE_CACHE_PLUGIN="memory")
    return subprocess.run(
        ["ansible-playbook", str(PLAYBOOK), "-i", str(inv)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def drain_log(tmp_path: Path) -> list[dict[str, Any]]:
    """What the stand-in drain/undrain logged, each with the emulated BMC's state at that time."""
    return json_lines(tmp_path / "drain.log")


def event_report(tmp_path: Path) -> list[dict[str, Any]]:
    """The playbook's controller-side JSON-lines report of drain events."""
    return json_lines(tmp_path / "rollouts" / "firmware_rollout.jsonl")


def most_hosts_drained_at_once(events: list[dict[str, Any]]) -> int:
    """Replays the report: a host is drained from its drain line until an undrain line."""
    drained: set[str] = set()
    most = 0
    for event in sorted(events, key=lambda e: str(e["time"])):
        if event["event"] == "drain":
            drained.add(event["host"])
        elif event["event"] == "undrain":
            drained.discard(event["host"])
        most = max(most, len(drained))
    return most


def test_task_exception_leaves_the_host_drained_and_halts_before_the_next_host(
    tmp_path: Path, cert: Path, emulator: Callable[[str], Emulator]
) -> None:
    done, failing, untouched = emulator("none"), emulator("exception"), emulator("none")
    inv = inventory(tmp_path, cert, {"fw-node-1": done, "fw-node-2": failing,
                                     "fw-node-3": untouched})
    result = playbook(inv)
    assert result.returncode != 0
    assert "ended Exception: Injected fault: firmware apply failed" in result.stdout
    assert "FIRMWARE ROLLOUT HALTED at fw-node-2" in result.stdout
    state = failing.state()
    assert state["resets"] == []  # no reset after a failed flash
    assert state["versions"]["HGX_FW_GPU_0"] == "96.00.89.00.01"
    assert untouched.state()["tasks"] == []  # serial 1 + halt: host 3 never started

    # Host 1 went back into service; host 2 was drained before its push and left drained.
    assert [(e["host"], e["event"]) for e in drain_log(tmp_path)] == [
        ("fw-node-1", "drain"), ("fw-node-1", "undrain"), ("fw-node-2", "drain")]
    assert drain_log(tmp_path)[2]["bmc"]["tasks"] == []
    assert not (tmp_path / "fw-node-1.drained").exists()
    assert (tmp_path / "fw-node-2.drained").exists()
    assert not (tmp_path / "fw-node-3.drained").exists()
    events = event_report(tmp_path)
    assert [(e["host"], e["event"]) for e in events] == [
        ("fw-node-1", "drain"), ("fw-node-1", "undrain"),
        ("fw-node-2", "drain"), ("fw-node-2", "left_drained")]
    assert "ended Exception" in events[3]["failure"]
    assert events[2]["packages"] == ["hgx-gpu-bundle"]
    assert most_hosts_drained_at_once(events) == 1  # serial 1: one host out of service at a time


@pytest.mark.parametrize("failing_host", ["fw-node-1", "fw-node-2"])
def test_in_a_batch_of_two_the_failed_host_is_left_drained_its_mate_finishes_and_the_rollout_halts(
    tmp_path: Path, cert: Path, emulator: Callable[[str], Emulator], failing_host: str
) -> None:
    bmcs = {name: emulator("exception" if name == failing_host else "none")
            for name in ("fw-node-1", "fw-node-2", "fw-node-3")}
    inv = inventory(tmp_path, cert, bmcs, firmware_rollout_max_drained=2)
    result = subprocess.run(
        ["ansible-playbook", str(PLAYBOOK), "-i", str(inv), "-e", "firmware_rollout_serial=2"],
        cwd=REPO, env=dict(os.environ, ANSIBLE_FORCE_COLOR="false", ANSIBLE_CACHE_PLUGIN="memory"),
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode != 0
    assert f"FIRMWARE ROLLOUT HALTED at {failing_host}" in result.stdout  # its rescue ran
    assert "the canary batch had 1 failed host(s)" in result.stdout
    mate = "fw-node-2" if failing_host == "fw-node-1" else "fw-node-1"
    assert bmcs[mate].state()["versions"]["HGX_FW_GPU_0"] == GPU_IMAGE["HGX_FW_GPU_0"]
    assert bmcs[failing_host].state()["resets"] == []
    assert bmcs["fw-node-3"].state()["tasks"] == []  # halted after the batch
    events = {(e["host"], e["event"]) for e in event_report(tmp_path)}
    assert events == {(mate, "drain"), (mate, "undrain"),
                      (failing_host, "drain"), (failing_host, "left_drained")}
    assert not (tmp_path / f"{mate}.drained").exists()
    assert (tmp_path / f"{failing_host}.drained").exists()
    assert most_hosts_drained_at_once(event_report(tmp_path)) == 2


def test_a_firmware_rollout_is_refused_while_a_driver_rollout_holds_the_lock(
    tmp_path: Path, cert: Path, emulator: Callable[[str], Emulator]
) -> None:
    bmc = emulator("none")
    inv = inventory(tmp_path, cert, {"fw-node-1": bmc})
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from colostack.rollout.lock import Holder, RolloutLock; "
         "lock = RolloutLock(Path(sys.argv[1]), Holder.current('rolling_driver_update.yml')); "
         "lock.acquire(); print('held', flush=True); time.sleep(60)",
         str(tmp_path / "rollout.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = playbook(inv)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode != 0
    assert "ROLLOUT REFUSED: another rollout holds" in result.stdout
    assert f"pid {holder.pid}" in result.stdout and "rolling_driver_update.yml" in result.stdout
    assert bmc.state()["tasks"] == []
    assert drain_log(tmp_path) == [] and event_report(tmp_path) == []


@pytest.mark.parametrize(("serial", "message"), [
    ("0", "firmware_rollout_serial must be between 1"),
    ("-1", "firmware_rollout_serial must be a whole number"),
    ("2", "firmware_rollout_serial gives a batch of 2 hosts, more than firmware_rollout_max_dr"),
])
def test_bad_serial_is_refused_before_any_drain(
    tmp_path: Path, cert: Path, emulator: Callable[[str], Emulator], serial: str, message: str
) -> None:
    bmcs = {"fw-node-1": emulator("none"), "fw-node-2": emulator("none")}
    inv = inventory(tmp_path, cert, bmcs)
    result = subprocess.run(
        ["ansible-playbook", str(PLAYBOOK), "-i", str(inv),
         "-e", f"firmware_rollout_serial={serial}"],
        cwd=REPO, env=dict(os.environ, ANSIBLE_FORCE_COLOR="false", ANSIBLE_CACHE_PLUGIN="memory"),
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode != 0
    assert message in result.stdout
    assert all(b.state()["tasks"] == [] for b in bmcs.values())
    assert drain_log(tmp_path) == []


def test_a_serial_set_in_the_inventory_is_refused_before_any_drain(
    tmp_path: Path, cert: Path, emulator: Callable[[str], Emulator]
) -> None:
    """Ansible's serial keyword cannot read host variables: it would run batches of one."""
    bmcs = {"fw-node-1": emulator("none"), "fw-node-2": emulator("none")}
    inv = inventory(tmp_path, cert, bmcs, firmware_rollout_serial=2, firmware_rollout_max_drained=2)
    result = playbook(inv)
    assert result.returncode != 0
    assert ("firmware_rollout_serial is 2 for these hosts (batches [2]), but the play's serial "
            "keyword formed batches [1, 1]") in " ".join(result.stdout.split())
    assert all(b.state()["tasks"] == [] for b in bmcs.values())
    assert drain_log(tmp_path) == []


def test_stuck_task_times_out_without_resetting_the_flash(
    tmp_path: Path, cert: Path, emulator: Callable[[str], Emulator]
) -> None:
    bmc = emulator("stuck")
    inv = inventory(tmp_path, cert, {"fw-node-1": bmc}, firmware_rollout_task_timeout=3)
    result = playbook(inv)
    assert result.returncode != 0
    assert "No reset was sent" in result.stdout
    state = bmc.state()
    assert [t["state"] for t in state["tasks"]] == ["Running"]
    assert state["resets"] == []
    assert state["interrupted_flashes"] == 0
    # Still flashing: the host stays drained.
    assert [e["event"] for e in drain_log(tmp_path)] == ["drain"]
    assert (tmp_path / "fw-node-1.drained").exists()
    assert [e["event"] for e in event_report(tmp_path)] == ["drain", "left_drained"]


def test_bmc_answering_503_while_it_reboots_is_waited_for(
    tmp_path: Path, cert: Path, emulator: Callable[[str], Emulator]
) -> None:
    bmc = emulator("reboot503")
    result = playbook(inventory(tmp_path, cert, {"fw-node-1": bmc}))
    assert result.returncode == 0, result.stdout[-3000:]
    state = bmc.state()
    assert state["answered_503"] == 2  # the BMC was down for 2 requests after its reset
    assert state["versions"]["HGX_FW_GPU_0"] == GPU_IMAGE["HGX_FW_GPU_0"]


def test_version_unchanged_after_reset_fails_verification(
    tmp_path: Path, cert: Path, emulator: Callable[[str], Emulator]
) -> None:
    bmc = emulator("unchanged")
    result = playbook(inventory(tmp_path, cert, {"fw-node-1": bmc}))
    assert result.returncode != 0
    assert "after hgx-gpu-bundle and the reset the BMC reports" in result.stdout
    state = bmc.state()
    assert len(state["resets"]) == 1
    assert state["versions"]["HGX_FW_GPU_0"] == "96.00.89.00.01"
    # The reset happened but the verify failed: the host is not put back into service.
    assert [e["event"] for e in drain_log(tmp_path)] == ["drain"]
    assert (tmp_path / "fw-node-1.drained").exists()
    events = event_report(tmp_path)
    assert [e["event"] for e in events] == ["drain", "left_drained"]
    assert events[1]["failure"].startswith("Verify the new versions are active:")


def test_window_refusal_then_forced_flash_reset_verify_and_an_idempotent_rerun(
    tmp_path: Path, cert: Path, emulator: Callable[[str], Emulator],
    capsys: pytest.CaptureFixture[str],
) -> None:
    bmc = emulator("none")
    late = "2026-06-06T05:30+02:00"  # 30 minutes of the window left, 90 needed
    inv = inventory(tmp_path, cert, {"fw-node-1": bmc}, packages=2, colostack_window_now=late)
    args = ["rollout", str(PLAYBOOK), "-i", str(inv), "--report-dir", str(tmp_path / "reports"),
            "--project-dir", str(REPO)]
    assert main(args) == 1
    report = json.loads((tmp_path / "reports" / "last.json").read_text())
    assert "next window starts 2026-06-13T02:00:00+02:00" in report["hosts"]["fw-node-1"]["message"]
    assert bmc.state()["tasks"] == []
    assert drain_log(tmp_path) == []  # refused: never drained

    assert main([*args, "-e", "colostack_force_window=true"]) == 0
    report = json.loads((tmp_path / "reports" / "last.json").read_text())
    assert report["forced_window"] is True
    assert report["stats_data"]["colostack_window_overrides"]["fw-node-1"]["forced"] is True
    assert "maintenance window OVERRIDDEN" in capsys.readouterr().out
    state = bmc.state()
    assert state["versions"] == {**state["versions"], **GPU_IMAGE, **CX7_IMAGE}
    assert report["stats_data"]["firmware"]["fw-node-1"]["after"] == state["versions"]
    assert report["stats_data"]["firmware"]["fw-node-1"]["before"]["CX7_0"] == "28.39.1002"
    assert [t["state"] for t in state["tasks"]] == ["Completed", "Completed"]
    # The BMC bundle asked for a Manager reset, the NIC image for a System reset.
    assert [r["uri"].rsplit("/", 1)[1] for r in state["resets"]] == ["BMC_0", "System_0"]
    assert state["interrupted_flashes"] == 0

    # Drained before the first push, undrained only once both flashes were reset and verified.
    drain, undrain = drain_log(tmp_path)
    assert (drain["event"], drain["bmc"]["tasks"]) == ("drain", [])
    assert undrain["event"] == "undrain"
    assert [t["state"] for t in undrain["bmc"]["tasks"]] == ["Completed", "Completed"]
    assert len(undrain["bmc"]["resets"]) == 2
    assert undrain["bmc"]["versions"] == state["versions"]
    assert not (tmp_path / "fw-node-1.drained").exists()
    events = event_report(tmp_path)
    assert [e["event"] for e in events] == ["drain", "undrain"]
    assert events[0]["packages"] == ["hgx-gpu-bundle", "cx7-nic"]
    # The report brackets the stand-in's own drain and undrain.
    assert events[0]["time"] < drain["time"] < undrain["time"] <= events[1]["time"]
    assert report["stats_data"]["firmware_rollout_events"] == events

    rerun = playbook(inventory(tmp_path, cert, {"fw-node-1": bmc}, packages=2))
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert len(bmc.state()["tasks"]) == 2  # versions already match: nothing pushed
    assert len(drain_log(tmp_path)) == 2  # ... and the host is neither drained nor undrained
    assert len(event_report(tmp_path)) == 2
