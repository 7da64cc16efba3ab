"""Opt-in quarantine of `colostack validate`, run on SYNTHETIC recordings (tests/data/validate):
a fatal XID or pending recovery drains through the flag file, healthy runs release it only
when allowed, and a flag someone else wrote is never touched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from colostack.validate.model import failed, passed
from colostack.validate.quarantine import OWNER, State, decide, fatal_reasons

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "validate"


def _validate(recording: str, flag: Path, release_after: int,
              prom: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "colostack", "validate", "--quiet", "--replay",
         str(DATA / f"h100-sxm-{recording}.synthetic.json"), "--quarantine-flag", str(flag),
         "--quarantine-release-after", str(release_after), "--prom", str(prom)],
        capture_output=True, text=True, check=False)


def _gauge(prom: Path) -> str:
    return next(line for line in prom.read_text().splitlines()
                if line.startswith("colostack_gpu_quarantined "))


def test_fatal_xid_drains_and_two_healthy_runs_release_when_allowed(tmp_path: Path) -> None:
    flag, prom = tmp_path / "vllm-drained", tmp_path / "v.prom"
    run = _validate("xid79-in-window", flag, 2, prom)
    assert run.returncode == 1
    assert "QUARANTINE: node drained: GPU 5 xid: XID 79" in run.stderr
    assert json.loads(flag.read_text())["by"] == OWNER
    assert _gauge(prom) == "colostack_gpu_quarantined 1.0"
    run = _validate("healthy", flag, 2, prom)
    assert run.returncode == 0 and "1 consecutive healthy runs, release after 2" in run.stderr
    assert flag.exists() and _gauge(prom) == "colostack_gpu_quarantined 1.0"
    run = _validate("healthy", flag, 2, prom)
    assert "QUARANTINE released after 2 consecutive healthy runs" in run.stderr
    assert not flag.exists() and _gauge(prom) == "colostack_gpu_quarantined 0.0"


def test_pending_row_remap_stays_drained_without_auto_release(tmp_path: Path) -> None:
    flag, prom = tmp_path / "vllm-drained", tmp_path / "v.prom"
    assert "GPU 4 row_remap" in _validate("row-remap-pending", flag, 0, prom).stderr
    for _ in range(3):
        run = _validate("healthy", flag, 0, prom)
        assert "automatic release off" in run.stderr
    assert flag.exists() and _gauge(prom) == "colostack_gpu_quarantined 1.0"


def test_unhealthy_but_not_fatal_neither_drains_nor_counts_as_healthy(tmp_path: Path) -> None:
    flag, prom = tmp_path / "vllm-drained", tmp_path / "v.prom"
    run = _validate("pcie-gen4", flag, 2, prom)
    assert run.returncode == 1 and "QUARANTINE" not in run.stderr
    assert not flag.exists() and _gauge(prom) == "colostack_gpu_quarantined 0.0"


def test_a_drain_flag_written_by_a_rollout_is_left_alone(tmp_path: Path) -> None:
    flag, prom = tmp_path / "vllm-drained", tmp_path / "v.prom"
    flag.write_text("drained by Ansible; remove with tasks_from=undrain\n")
    run = _validate("xid79-in-window", flag, 1, prom)
    assert "node already drained by another" in run.stderr
    _validate("healthy", flag, 1, prom)
    assert flag.read_text() == "drained by Ansible; remove with tasks_from=undrain\n"
    assert _gauge(prom) == "colostack_gpu_quarantined 0.0"


def test_unreadable_kernel_log_is_not_a_fatal_xid() -> None:
    results = [failed("xid", 0, None, 0, "kernel log unreadable: denied"),
               failed("recovery_action", 1, "GPU reset", "none", "NVML asks for: GPU reset"),
               failed("pcie_link", 2, "Gen4", "Gen5", "downtrained"),
               passed("row_remap", 3, "pending=0 failure=0", "0/0", "ok")]
    assert fatal_reasons(results) == ["GPU 1 recovery_action: NVML asks for: GPU reset"]


def test_a_fatal_run_resets_the_healthy_count() -> None:
    held = State("GPU 1 xid: XID 79", "then", healthy_runs=2)
    new, outcome = decide(True, held, ["GPU 1 xid: XID 79"], False, now="now", release_after=3)
    assert new == State("GPU 1 xid: XID 79", "then", 0) and outcome.quarantined


def test_without_quarantine_the_textfile_has_no_quarantine_gauge(tmp_path: Path) -> None:
    prom = tmp_path / "v.prom"
    subprocess.run([sys.executable, "-m", "colostack", "validate", "--quiet", "--replay",
                    str(DATA / "h100-sxm-healthy.synthetic.json"), "--prom", str(prom)],
                   capture_output=True, check=True)
    assert "colostack_gpu_quarantined" not in prom.read_text()
