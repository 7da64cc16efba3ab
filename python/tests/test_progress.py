"""Progress on long commands: drawn on a terminal's stderr, never into a pipe, and fed by the
work itself. NVML and the CUDA run are SIMULATED here (stubs returning made-up values): these
tests prove the wiring to the bar, nothing about hardware."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from rich.console import Console
from rich.progress import Progress

from colostack import terminal
from colostack.cli import main
from colostack.profile import command as profile_command
from colostack.profile.samples import Sample
from colostack.validate.cuda import DeviceTestResult
from colostack.validate.nvml_source import NvmlReadings


def _terminal_bar(buf: io.StringIO) -> Callable[[], Progress]:
    return lambda: terminal.stderr_progress(Console(file=buf, force_terminal=True, width=80))


def test_bar_draws_nothing_into_a_pipe() -> None:
    buf = io.StringIO()
    with terminal.stderr_progress(Console(file=buf)) as bar:
        bar.advance(bar.add_task("work", total=2))
    assert buf.getvalue() == ""


def test_prose_wraps_only_when_a_width_is_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert terminal.stdout_console().soft_wrap is True  # a pipe or the journal: whole lines
    monkeypatch.setenv("COLUMNS", "80")
    assert terminal.stdout_console().soft_wrap is False


def test_profile_sampling_advances_a_bar_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    @contextmanager
    def session(_timeout: float) -> Iterator[object]:
        yield object()

    def batches(_nvml: object, _interval: float, _duration: float) -> Iterator[list[Sample]]:
        for t in range(3):  # SIMULATED samples of one GPU
            yield [Sample(float(t * 10), 0, 90.0, 1000.0, 80_000.0, 500.0)]

    buf = io.StringIO()
    monkeypatch.setattr(profile_command, "Session", session)
    monkeypatch.setattr(profile_command, "sample_forever", batches)
    monkeypatch.setattr(profile_command, "stderr_progress", _terminal_bar(buf))
    assert main(["profile", "--duration", "30", "--interval", "10", "--json"]) == 0
    assert "sampling every 10 s" in buf.getvalue() and "3/3" in buf.getvalue()
    assert capsys.readouterr().out.lstrip().startswith("{")  # stdout stays JSON


class _StubNvml:
    """SIMULATED NVML session: a bus id, and a load run that returns made-up results."""

    timeout_s = 1.0

    def read(self, index: int, key: str) -> Any:
        assert key == "pci.bus_id"
        return f"00000000:{index + 0x18:02X}:00.0"

    def call(self, key: str, fn: Callable[[], Any], index: int, timeout: float) -> Any:
        return DeviceTestResult([3000.0], 4, 0)


def test_each_gpus_load_run_reports_once_when_it_ends() -> None:
    done: list[int] = []
    readings = NvmlReadings(_StubNvml(), on_load_done=done.append)  # type: ignore[arg-type]
    for gpu in (0, 1):
        assert readings.gpu(gpu, "load.bandwidth_gbps") == [3000.0]
        assert readings.gpu(gpu, "load.compute_mismatches") == 0  # same run, no second report
    assert done == [0, 1]
