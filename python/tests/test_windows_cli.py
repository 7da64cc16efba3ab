"""`colostack window next|check`: exit codes, --force, and windows read from an inventory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from colostack.cli import main

WINDOW = {"start": "Sat 23:00", "duration": "4h", "timezone": "Europe/Berlin"}


@pytest.fixture
def vars_file(tmp_path: Path) -> Path:
    path = tmp_path / "hostvars.json"
    hostvars = {"gpu-1": {"colostack_maintenance_window": WINDOW}, "bare": {}}
    path.write_text(json.dumps({"_meta": {"hostvars": hostvars}}))
    return path


def check(vars_file: Path, now: str, expected: str, *extra: str) -> int:
    return main(["window", "check", "--host", "gpu-1", "--vars-file", str(vars_file),
                 "--now", now, "--expected-duration", expected, *extra])


def test_check_exit_codes_admit_refuse_and_force(
    vars_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(vars_file, "2026-06-07T01:30+02:00", "45m") == 0
    assert check(vars_file, "2026-06-07T02:30+02:00", "45m") == 1
    out = capsys.readouterr().out
    assert "refused" in out
    assert "next window starts Sat 2026-06-13 23:00 CEST" in out
    assert check(vars_file, "2026-06-07T02:30+02:00", "45m", "--force", "--json") == 3
    decision = json.loads(capsys.readouterr().out)
    assert decision["forced"] is True
    assert decision["admitted"] is True
    assert decision["next_start"] == "2026-06-13T23:00:00+02:00"


def test_check_without_a_window_is_a_config_error_naming_the_variable(
    vars_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["window", "check", "--host", "bare", "--vars-file", str(vars_file),
                 "--expected-duration", "1h"])
    assert code == 2
    assert "colostack_maintenance_window is not set" in capsys.readouterr().err


def test_next_reads_group_vars_through_ansible_inventory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = tmp_path / "inv"
    (inventory / "group_vars" / "gpu_nodes").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump(
        {"all": {"children": {"gpu_nodes": {"hosts": {"gpu-1": None, "gpu-2": None}}}}}))
    (inventory / "group_vars" / "gpu_nodes" / "windows.yml").write_text(
        yaml.safe_dump({"colostack_maintenance_window": WINDOW}))
    (inventory / "host_vars").mkdir()
    (inventory / "host_vars" / "gpu-2.yml").write_text(yaml.safe_dump(
        {"colostack_maintenance_window": {"rrule": "FREQ=DAILY;BYHOUR=4", "duration": "1h",
                                          "timezone": "America/New_York"}}))
    assert main(["window", "next", "--host", "gpu-1", "-i", str(inventory), "--count", "2",
                 "--now", "2026-06-01T00:00+00:00"]) == 0
    assert main(["window", "next", "--host", "gpu-2", "-i", str(inventory), "--count", "1",
                 "--now", "2026-06-01T00:00+00:00"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].strip() == "Sat 2026-06-06 23:00 CEST -> Sun 2026-06-07 03:00 CEST"
    assert lines[2].strip() == "Sat 2026-06-13 23:00 CEST -> Sun 2026-06-14 03:00 CEST"
    assert lines[4].strip() == "Mon 2026-06-01 04:00 EDT -> Mon 2026-06-01 05:00 EDT"
