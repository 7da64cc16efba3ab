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

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


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
