"""The parts of `colostack validate` that need no GPU: formulas, PTX text, timeouts, parsing,
power-cap constraints, the recorder and the NVML path on a host without a driver."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from colostack.cli import main
from colostack.nvml.pci import bus_key
from colostack.nvml.platforms import SKUS, for_device
from colostack.nvml.session import call_with_timeout
from colostack.validate import cuda, power_cap
from colostack.validate.checks.bandwidth import peak_gbps
from colostack.validate.checks.xid import in_window, parse
from colostack.validate.readings import ERROR_KEY, ReadingError, Recorder, ReplayReadings
from colostack.validate.runner import validate
from colostack.validate.settings import Settings

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "validate"
HEALTHY = DATA / "h100-sxm-healthy.synthetic.json"


def test_peak_bandwidth_from_nvml_matches_the_h100_sxm_spec_sheet() -> None:
    # 5120-bit bus x 2619 MHz x 2 / 8 = 3.35 TB/s (reference sheet)
    assert round(peak_gbps(5120, 2619)) == 3352
    assert round(peak_gbps(5120, 1593)) == 2039  # H100 PCIe, 2.0 TB/s


def test_copy_bandwidth_counts_bytes_read_and_written() -> None:
    # 1 GiB copied 20 times in 14.3 ms moves 2 x 20 GiB
    assert cuda.copy_gbps(1 << 30, 20, 14.3) == pytest.approx(3003.5, abs=0.1)


def test_ptx_defines_both_kernels_for_jit_on_any_volta_or_newer_gpu() -> None:
    assert re.search(r"^\.target sm_70$", cuda.PTX, re.M)
    entries = re.findall(r"\.visible \.entry (\w+)\(", cuda.PTX)
    assert entries == ["copy_v4", "fma_check"]
    # 16-byte vector loads and stores: a scalar copy does not reach HBM peak
    assert "ld.global.v4.u32" in cuda.PTX and "st.global.v4.u32" in cuda.PTX
    assert [cuda.expected_fma(i) for i in range(3)] == [1.0, 3.0, 5.0]


@pytest.mark.skipif(not os.environ.get("PTXAS"), reason="set PTXAS=/path/to/ptxas to assemble")
def test_ptx_assembles_for_hopper(tmp_path: Path) -> None:
    src = tmp_path / "k.ptx"
    src.write_text(cuda.PTX)
    proc = subprocess.run([os.environ["PTXAS"], "-arch=sm_90", str(src), "-o",
                           str(tmp_path / "k.cubin")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_profiles_are_keyed_by_the_reference_pci_device_ids() -> None:
    assert {hex(p.pci_device_id) for p in SKUS} == {"0x2330", "0x2331", "0x2321", "0x2335"}
    pcie = for_device(0x2331)
    assert pcie is not None and pcie.nvlink_links == 0 and not pcie.nvswitch_fabric
    assert for_device(0x20B0) is None  # A100: no profile, so its checks are unknown, not pass


def test_unknown_sku_is_could_not_validate_not_healthy() -> None:
    data = json.loads(HEALTHY.read_text())
    for gpu in data["gpus"]:
        gpu["pci.device_id"] = 0x20B0
    report = validate(ReplayReadings(data), Settings(), "test", True)
    assert int(report.exit_code) == 2
    assert any(r.status.value == "unknown" and "0x20b0" in r.reason for r in report.results)


def test_timeout_bounds_a_hung_call_and_passes_results_and_errors_through() -> None:
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError):
        call_with_timeout(lambda: time.sleep(5), 0.1)
    assert time.perf_counter() - t0 < 1.0
    assert call_with_timeout(lambda: 42, 1.0) == 42
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 1.0)


def test_xid_parser_reads_journald_and_dmesg_timestamps_and_maps_bus_ids() -> None:
    lines = [
        "2026-11-27T19:50:00.123456+0000 hgx-01 kernel: NVRM: Xid (PCI:0000:9a:00): 79, pid=1",
        "2026-11-27T14:00:00,000000+00:00 NVRM: Xid (PCI:0000:18:00): 48, pid='<unknown>'",
        "[12345.678] NVRM: Xid (PCI:0000:2a:00): 13, Graphics Exception",
        "2026-11-27T19:55:00+00:00 kernel: usb 1-1: new device",
    ]
    events = parse(lines)
    assert [(e.bus, e.xid) for e in events] == [((0, 0x9A, 0), 79), ((0, 0x18, 0), 48),
                                               ((0, 0x2A, 0), 13)]
    assert events[2].at is None  # unreadable timestamp
    now = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    recent = in_window(events, now, 2 * 3600)
    # the 6 h old XID 48 drops out; the undated one stays (fail closed)
    assert [e.xid for e in recent] == [79, 13]
    assert bus_key("00000000:9A:00.0") == bus_key("0000:9a:00") == (0, 0x9A, 0)


def test_power_cap_requests_parse_and_are_checked_against_nvml_constraints() -> None:
    assert power_cap.parse_caps(["650", "3=550"], 8) == {**dict.fromkeys(range(8), 650.0),
                                                         3: 550.0}
    with pytest.raises(power_cap.PowerCapError, match="no GPU 9"):
        power_cap.parse_caps(["9=500"], 8)
    with pytest.raises(power_cap.PowerCapError, match="expected WATTS"):
        power_cap.parse_caps(["lots"], 8)
    replay = ReplayReadings.load(HEALTHY)
    plans = power_cap.plan(replay, {0: 700.0, 1: 550.0})
    assert [(p.gpu, p.changes) for p in plans] == [(0, False), (1, True)]
    with pytest.raises(power_cap.PowerCapError, match="150 W is outside NVML's constraints 200-7"):
        power_cap.plan(replay, {2: 150.0})


def test_recorder_round_trip_replays_to_the_same_results_including_errors() -> None:
    source = ReplayReadings.load(DATA / "h100-sxm-nvml-error.synthetic.json")
    recorder = Recorder(source)
    first = validate(recorder, Settings(), "a", True)
    recording = recorder.recording(synthetic=True)
    assert recording["gpus"][0]["power.enforced_limit_mw"] == {ERROR_KEY: "NVML_ERROR_GPU_IS_LOST"}
    second = validate(ReplayReadings(recording), Settings(), "b", True)
    assert second.results == first.results


def test_replay_of_an_absent_reading_fails_closed() -> None:
    data = json.loads(HEALTHY.read_text())
    del data["gpus"][4]["remap.pending"]
    replay = ReplayReadings(data)
    with pytest.raises(ReadingError, match=r"GPU 4: reading remap\.pending failed: not in rec"):
        replay.gpu(4, "remap.pending")
    report = validate(replay, Settings(), "test", True)
    bad = [(r.gpu, r.check, r.status.value) for r in report.results if r.status.value != "pass"]
    assert bad == [(4, "row_remap", "fail")]


def test_hardware_path_without_an_nvidia_driver_could_not_validate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if Path("/dev/nvidiactl").exists():
        pytest.skip("this host has an NVIDIA driver")
    assert main(["validate", "--quiet"]) == 2
    assert "could not validate: NVML init failed" in capsys.readouterr().err
