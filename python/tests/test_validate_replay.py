"""Every check judged on replayed recordings: the healthy synthetic H100 SXM5 board passes, and
each fault-injected copy fails with a reason naming the GPU and the check."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from colostack.cli import main
from colostack.validate.model import ExitCode, Status
from colostack.validate.readings import ReplayReadings
from colostack.validate.runner import validate
from colostack.validate.settings import Settings

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "validate"
Capture = pytest.CaptureFixture[str]
HEALTHY = DATA / "h100-sxm-healthy.synthetic.json"

# recording -> (GPU, check) that must fail. The reason text must say what was wrong.
FAULTS: dict[str, tuple[int | None, str, str]] = {
    "thermal-slowdown": (2, "clock_events", "HW thermal slowdown"),
    "power-cap-drift": (1, "power_cap", "enforced 500 W"),
    "row-remap-pending": (4, "row_remap", "pending 1"),
    "sram-uncorrected": (6, "ecc", "ecc.volatile.sram.uncorrected=1"),
    "pcie-gen4": (3, "pcie_link", "Gen4 x16"),
    "xid79-in-window": (5, "xid", "XID 79"),
    "bandwidth-60pct": (7, "hbm_bandwidth", "60% of 3352 GB/s"),
    "missing-gpu": (None, "gpu_count", "7 GPUs visible, 8 expected"),
    "nvml-error": (0, "power_cap", "NVML_ERROR_GPU_IS_LOST"),
}


def _run(path: Path, settings: Settings | None = None) -> Any:
    replay = ReplayReadings.load(path)
    return validate(replay, settings or Settings(), f"replay:{path.name}", replay.synthetic)


def test_healthy_recording_passes_every_check_on_every_gpu() -> None:
    report = _run(HEALTHY)
    assert report.exit_code is ExitCode.HEALTHY
    assert report.synthetic is True
    checks = {r.check for r in report.results}
    assert {"power_cap", "ecc", "row_remap", "pcie_link", "nvlink", "nvswitch_fabric", "xid",
            "recovery_action", "hbm_bandwidth", "compute", "clock_events",
            "hbm_temperature"} <= checks
    # 8 GPUs x every per-GPU check, all pass
    assert {r.gpu for r in report.results if r.gpu is not None} == set(range(8))
    assert [r for r in report.results if r.status is not Status.PASS] == []


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_recording_fails_naming_gpu_and_check(fault: str) -> None:
    gpu, check, reason = FAULTS[fault]
    report = _run(DATA / f"h100-sxm-{fault}.synthetic.json")
    assert report.exit_code is ExitCode.UNHEALTHY
    failing = [r for r in report.results if r.status is Status.FAIL]
    hit = [r for r in failing if r.gpu == gpu and r.check == check]
    assert hit, f"expected {check} to fail on GPU {gpu}, got {failing}"
    assert reason in hit[0].reason
    if fault != "nvml-error":  # a lost GPU fails every check of that GPU, nothing else
        assert {(r.gpu, r.check) for r in failing} <= {(gpu, check), (2, "gpu_temperature")}


def test_lost_gpu_fails_all_its_checks_and_leaves_the_others_passing() -> None:
    report = _run(DATA / "h100-sxm-nvml-error.synthetic.json")
    gpu0 = [r for r in report.results if r.gpu == 0]
    assert gpu0 and all(r.status is Status.FAIL for r in gpu0)
    others = [r for r in report.results if r.gpu not in (0, None)]
    assert all(r.status is Status.PASS for r in others)


def test_old_xid_outside_the_window_does_not_fail_but_a_wider_window_does() -> None:
    path = DATA / "h100-sxm-xid79-outside-window.synthetic.json"
    assert _run(path).exit_code is ExitCode.HEALTHY
    wide = _run(path, Settings(xid_window_s=6 * 3600))
    assert [(r.gpu, r.check) for r in wide.results if r.status is Status.FAIL] == [(5, "xid")]


def test_recordings_on_disk_match_their_generator() -> None:
    spec = importlib.util.spec_from_file_location("make_recordings", DATA / "make_recordings.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for name, rec in gen.recordings().items():
        on_disk = (DATA / f"{name}.synthetic.json").read_text()
        assert on_disk == gen.render(rec), f"{name} is stale: rerun make_recordings.py"
        assert rec["synthetic"] is True and "SYNTHETIC" in rec["note"]


def test_cli_replay_prints_a_passing_table_and_writes_reports(
    tmp_path: Path, capsys: Capture
) -> None:
    report, prom = tmp_path / "report.json", tmp_path / "gpu.prom"
    code = main(["validate", "--replay", str(HEALTHY), "--json", str(report), "--prom", str(prom),
                 "--expect-driver", "550.163.01", "--expect-cuda", "12.4"])
    assert code == 0
    out = capsys.readouterr().out
    assert "healthy" in out and "HBM GB/s" in out and "SYNTHETIC" in out
    assert out.count("19/19 pass") == 8  # the compact table: one line per GPU
    data = json.loads(report.read_text())
    assert data["verdict"] == "healthy" and data["synthetic"] is True
    assert len(data["gpus"]) == 8
    text = prom.read_text()
    assert 'colostack_gpu_check_passed{check="hbm_bandwidth",gpu="7"} 1.0' in text
    assert 'colostack_gpu_check_passed{check="gpu_count",gpu="host"} 1.0' in text
    assert "colostack_gpu_validate_exit_code 0.0" in text


def test_cli_fault_exit_code_and_reason_on_stderr(tmp_path: Path, capsys: Capture) -> None:
    prom = tmp_path / "gpu.prom"
    code = main(["validate", "--replay", str(DATA / "h100-sxm-pcie-gen4.synthetic.json"),
                 "--prom", str(prom)])
    assert code == 1
    assert "FAIL: GPU 3 pcie_link: under load Gen4 x16" in capsys.readouterr().err
    assert 'colostack_gpu_check_passed{check="pcie_link",gpu="3"} 0.0' in prom.read_text()


def test_cli_driver_pin_mismatch_fails(capsys: Capture) -> None:
    code = main(["validate", "--replay", str(HEALTHY), "--expect-driver", "570.0", "--quiet"])
    assert code == 1


def test_cli_unreadable_recording_could_not_validate(tmp_path: Path, capsys: Capture) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something-else"}')
    assert main(["validate", "--replay", str(bad)]) == 2
    assert "could not validate" in capsys.readouterr().err


def test_cli_power_cap_outside_constraints_is_a_clear_error(capsys: Capture) -> None:
    code = main(["validate", "--replay", str(HEALTHY), "--set-power-cap", "900"])
    assert code == 2
    err = capsys.readouterr().err
    assert "GPU 0: power cap 900 W is outside NVML's constraints 200-700 W" in err


def test_cli_power_cap_within_constraints_becomes_the_intended_cap(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    # The recording enforces 700 W; asking for 600 W on GPU 2 in replay makes GPU 2 fail.
    code = main(["validate", "--replay", str(HEALTHY), "--set-power-cap", "2=600",
                 "--json", str(report), "--quiet"])
    assert code == 1
    failing = [(r["gpu"], r["check"]) for r in json.loads(report.read_text())["results"]
               if r["status"] == "fail"]
    assert failing == [(2, "power_cap")]


def test_baseline_flags_bandwidth_regression_over_five_percent(tmp_path: Path) -> None:
    before = tmp_path / "before.json"
    assert main(["validate", "--replay", str(HEALTHY), "--json", str(before), "--quiet"]) == 0
    after = tmp_path / "after.json"
    code = main(["validate", "--replay", str(DATA / "h100-sxm-bandwidth-60pct.synthetic.json"),
                 "--baseline", str(before), "--bandwidth-floor", "0.5", "--json", str(after),
                 "--quiet"])
    assert code == 1
    failing = [r for r in json.loads(after.read_text())["results"] if r["status"] == "fail"]
    assert [(r["gpu"], r["check"]) for r in failing] == [(7, "baseline_hbm_bandwidth")]
    assert "-33" in failing[0]["reason"]
    same = main(["validate", "--replay", str(HEALTHY), "--baseline", str(before), "--quiet"])
    assert same == 0


def test_cli_expected_cap_is_checked_without_applying(capsys: Capture) -> None:
    code = main(["validate", "--replay", str(HEALTHY), "--expect-power-cap", "650", "--quiet"])
    assert code == 1
    assert "FAIL: GPU 0 power_cap: enforced 700 W, pinned cap 650 W" in capsys.readouterr().err
    assert main(["validate", "--replay", str(HEALTHY), "--expect-power-cap", "950"]) == 2
