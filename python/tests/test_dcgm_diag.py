"""`colostack validate --dcgm-diag LEVEL` with the STAND-IN dcgmi (tests/fixtures/dcgmi_standin):
it proves that colostack parses dcgmi's documented JSON shape and maps tests to checks, not
anything about real DCGM or GPUs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from colostack.validate.dcgm import DcgmError, parse
from colostack.validate.model import Status

REPO = Path(__file__).resolve().parents[2]
STANDIN = REPO / "tests" / "fixtures" / "dcgmi_standin"
HEALTHY = REPO / "tests" / "data" / "validate" / "h100-sxm-healthy.synthetic.json"


def _fixture(name: str) -> object:
    return json.loads((STANDIN / name).read_text())


def test_every_test_and_gpu_becomes_a_check_and_skips_become_notes() -> None:
    results, skipped = parse(_fixture("diag-pass.json"), 2)
    assert all(r.status is Status.PASS for r in results)
    host = [r for r in results if r.gpu is None]
    assert len(host) == 9 and {r.check for r in host} >= {"dcgm_denylist", "dcgm_inforom"}
    assert [r.gpu for r in results if r.check == "dcgm_gpu_memory"] == list(range(8))
    assert len(skipped) == 8 and skipped[0].startswith("DCGM level 2 Diagnostic skipped on GPU 0")


def test_a_failed_test_names_the_gpu_and_dcgm_warning() -> None:
    results, _ = parse(_fixture("diag-fail-gpu1-memory.json"), 3)
    failing = [r for r in results if r.status is Status.FAIL]
    assert [(r.gpu, r.check) for r in failing] == [(1, "dcgm_gpu_memory")]
    assert "cuMemAlloc for GPU 1: out of memory" in failing[0].reason


def test_unknown_status_is_unknown_and_entity_id_names_the_gpu() -> None:
    data = {"DCGM GPU Diagnostic": {"test_categories": [{"category": "Hardware", "tests": [
        {"name": "Memory Bandwidth", "results": [{"entity_id": 3, "status": "Odd"}]}]}]}}
    (result,), _ = parse(data, 3)
    assert result.gpu == 3 and result.status is Status.UNKNOWN


@pytest.mark.parametrize("data", [{}, {"DCGM GPU Diagnostic": {"test_categories": [{}]}}, [],
                                  {"DCGM GPU Diagnostic": {"test_categories": []}}])
def test_output_that_is_not_the_diagnostic_json_is_an_error(data: object) -> None:
    with pytest.raises(DcgmError):
        parse(data, 1)


def _validate(path: str, *extra: str, result: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=path, DCGMI_STANDIN_RESULT=result)
    return subprocess.run([sys.executable, "-m", "colostack", "validate", "--quiet",
                           "--replay", str(HEALTHY), *extra], capture_output=True, text=True,
                          env=env, check=False)


def test_cli_adds_dcgm_checks_and_fails_on_a_failed_test(tmp_path: Path) -> None:
    path = f"{STANDIN}:{os.environ['PATH']}"
    run = _validate(path, "--dcgm-diag", "2", "--json", str(tmp_path / "r.json"))
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert sum(r["check"].startswith("dcgm_") for r in report["results"]) == 25
    run = _validate(path, "--dcgm-diag", "3",
                    result=str(STANDIN / "diag-fail-gpu1-memory.json"))
    assert run.returncode == 1
    assert "FAIL: GPU 1 dcgm_gpu_memory: DCGM level 3 GPU Memory: Fail" in run.stderr


def test_cli_without_dcgmi_could_not_validate_in_one_line(tmp_path: Path) -> None:
    run = _validate(str(tmp_path), "--dcgm-diag", "1")
    assert run.returncode == 2
    assert run.stderr == ("could not validate: --dcgm-diag 1: dcgmi not found on PATH "
                          "(install DCGM: the dcgm role)\n")


def test_cli_refuses_level_5_in_one_line() -> None:
    run = _validate(os.environ["PATH"], "--dcgm-diag", "5")
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "--dcgm-diag" in run.stderr
