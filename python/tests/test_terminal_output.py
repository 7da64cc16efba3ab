"""What each command prints on a terminal 80 and 120 columns wide: no line is wider, and the rows
an operator looks for are there. GPU readings are the SYNTHETIC recordings under tests/data
(replays, not hardware); the rollout's events are a recorded ansible-runner stream on local hosts.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from colostack.cli import main
from colostack.rollout.cli import progress_printer
from colostack.rollout.progress import Progress

ROOT = Path(__file__).resolve().parents[2]
VALIDATE = ROOT / "tests" / "data" / "validate"
EVENTS = ROOT / "tests" / "data" / "rollout" / "serial-halted.events.jsonl"
PROFILE = ROOT / "tests" / "data" / "profile" / "synthetic-2gpu-7d.jsonl"
WINDOW = json.dumps({"start": "02:00", "duration": "2h", "timezone": "UTC"})
WIDTHS = (80, 120)
GPU_ROW = re.compile(r"^ {2}\d  ")


@pytest.fixture(params=WIDTHS)
def width(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("COLUMNS", str(request.param))
    return int(request.param)


def run(capsys: pytest.CaptureFixture[str], width: int, *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    lines = capsys.readouterr().out.splitlines()
    too_wide = [line for line in lines if len(line) > width]
    assert too_wide == [], f"wider than {width}: {too_wide}"
    return code, lines


def test_validate_prints_one_line_per_gpu_on_a_healthy_host(
    capsys: pytest.CaptureFixture[str], width: int
) -> None:
    code, lines = run(capsys, width, "validate", "--replay",
                      str(VALIDATE / "h100-sxm-healthy.synthetic.json"))
    assert code == 0
    rows = [line for line in lines if GPU_ROW.match(line)]
    assert len(rows) == 8 and all(row.endswith("19/19 pass") for row in rows)
    assert "3012" in rows[0] and "Gen5 x16" in rows[0] and "700 W" in rows[0]
    assert "SYNTHETIC" in "\n".join(lines)
    assert len(lines) <= 16  # was 593 lines at 80 columns


def test_validate_expands_the_failing_check_beneath_its_gpu(
    capsys: pytest.CaptureFixture[str], width: int
) -> None:
    code, lines = run(capsys, width, "validate", "--replay",
                      str(VALIDATE / "h100-sxm-pcie-gen4.synthetic.json"))
    assert code == 1
    row = next(i for i, line in enumerate(lines) if line.startswith("  3  "))
    assert lines[row].endswith("18/19 FAIL") and "Gen4 x16" in lines[row]
    assert lines[row + 1].strip() == "FAIL pcie_link: under load Gen4 x16, link max Gen5 x16"
    assert lines[row + 2].startswith("  4  ")


def test_validate_wraps_long_failures_within_the_width(
    capsys: pytest.CaptureFixture[str], width: int
) -> None:
    code, lines = run(capsys, width, "validate", "--replay",
                      str(VALIDATE / "h100-sxm-nvml-error.synthetic.json"))
    assert code == 1
    text = "\n".join(lines)
    assert "0/19 FAIL" in text and "NVML_ERROR_GPU_IS_LOST" in text
    assert sum("19/19 pass" in line for line in lines) == 7
    missing = run(capsys, width, "validate", "--replay",
                  str(VALIDATE / "h100-sxm-missing-gpu.synthetic.json"))[1]
    assert any(line.strip() == "FAIL gpu_count: 7 GPUs visible, 8 expected" for line in missing)


def test_validate_verbose_prints_every_check(
    capsys: pytest.CaptureFixture[str], width: int
) -> None:
    code, lines = run(capsys, width, "validate", "-v", "--replay",
                      str(VALIDATE / "h100-sxm-healthy.synthetic.json"))
    assert code == 0
    text = "\n".join(lines)
    assert text.count("hbm_bandwi") == 8 and "nvswitch" in text
    assert len(lines) > 100


def test_rollout_progress_from_a_recorded_event_stream(width: int) -> None:
    out = io.StringIO()
    show = progress_printer(Console(file=out, width=width, highlight=False))
    events = [json.loads(line) for line in EVENTS.read_text().splitlines()[1:]]
    for event in events:
        show(event)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= width
    text = out.getvalue()
    assert "play 'Tiny rollout' started" in text
    assert "batch 1: host node-1" in text and "batch 1 done: node-1 ok" in text
    assert "batch 2: host node-2" in text and "batch 2 done: node-2 failed" in text
    assert "node-2: FAILED at 'Fail on the host named in fail_on'" in text
    assert text.count("started") == 3  # the play once, then each batch


def test_profile_summary(capsys: pytest.CaptureFixture[str], width: int) -> None:
    code, lines = run(capsys, width, "profile", "--replay", str(PROFILE))
    assert code == 0
    text = " ".join(lines)
    assert "SYNTHETIC" in text and "steady enough to own? no" in text
    assert any(line.startswith("  0 ") for line in lines)
    assert any(line.startswith("  1 ") for line in lines)


def test_window_tco_and_powercap(capsys: pytest.CaptureFixture[str], width: int) -> None:
    now = "2026-12-01T00:00:00+00:00"
    code, lines = run(capsys, width, "window", "check", "--host", "gpu-node-with-a-long-name",
                      "--window", WINDOW, "--now", now, "--expected-duration", "1h")
    assert code == 1 and "refused" in lines[0]
    code, lines = run(capsys, width, "window", "next", "--host", "n1", "--window", WINDOW,
                      "--now", now)
    assert code == 0 and len(lines) == 4
    code, lines = run(capsys, width, "tco")
    assert code == 0 and any(line.startswith("self_hosted") for line in lines)
    code, lines = run(capsys, width, "powercap", "--budget-w", "6000", "--gpus", "8")
    assert code == 0 and lines[-1] == "node max 6000 W of 6000 W budget"


@pytest.mark.parametrize("command", ["", "validate", "rollout", "profile", "window", "window next",
                                     "window check", "cost-agent", "chargeback", "tco",
                                     "powercap"])
def test_help_fits(capsys: pytest.CaptureFixture[str], width: int, command: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command.split(), "--help"])
    assert exit_info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= width
    assert lines[0].startswith("usage: colostack")


def test_rollout_progress_says_rescued_when_a_host_carries_on_after_a_failure() -> None:
    progress = Progress()
    events: list[dict[str, object]] = [  # hand-written events, in ansible-runner's shape
        {"event": "playbook_on_play_start", "event_data": {"play": "p", "play_uuid": "u"}},
        {"event": "runner_on_start", "event_data": {"host": "n1"}},
        {"event": "runner_on_failed", "event_data": {"host": "n1", "task": "t",
                                                     "res": {"msg": "boom"}}},
        {"event": "runner_on_ok", "event_data": {"host": "n1", "res": {"changed": True}}},
        {"event": "playbook_on_stats", "event_data": {}},
    ]
    lines = [line for event in events for line in progress(event)]
    assert "n1: FAILED at 't': boom" in lines
    assert lines[-1] == "batch 1 done: n1 rescued"


def test_validate_into_a_pipe_keeps_each_failure_on_one_whole_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)  # no terminal, no width: the journal's case
    assert main(["validate", "--replay", str(VALIDATE / "h100-sxm-nvml-error.synthetic.json")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert ("     FAIL compute_capability: GPU 0: reading compute_capability failed: "
            "NVML_ERROR_GPU_IS_LOST") in lines
