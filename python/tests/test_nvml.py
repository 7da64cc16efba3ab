"""The one NVML layer (colostack.nvml): session lifetime, bounded calls, error mapping, the
readings profile, cost and validate take through it, and the platform table the role is
generated from. The device is tests/fakenvml.py, an explicit fake."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fakenvml import (
    GPU_IS_LOST,
    FakeNvml,
    NVMLError_GPUIsLost,
    NVMLError_NotSupported,
    memory,
    process,
    utilization,
)
from fakenvml import NVMLError as FakeNVMLError

from colostack.cost.gpus import GpuProc, GpuReading, read_nvml
from colostack.nvml import platforms
from colostack.nvml.session import NvmlError, Session
from colostack.profile.sampler import sample
from colostack.profile.samples import Sample
from colostack.validate.nvml_source import NvmlReadings
from colostack.validate.readings import ReadingError

PYTHON = Path(__file__).resolve().parents[1]
REPO = PYTHON.parent
ROLE_TABLE = REPO / "roles/nvidia_driver/vars/platforms.yml"
MIB = 1024 * 1024


def _gpu(**values: object) -> dict[str, object]:
    return {"nvmlDeviceGetUUID": "GPU-fake-0", "nvmlDeviceGetPowerUsage": 350_000,
            "nvmlDeviceGetMemoryInfo": memory(40 * MIB, 80 * MIB),
            "nvmlDeviceGetTotalEnergyConsumption": 9_000_000,
            "nvmlDeviceGetComputeRunningProcesses": [process(4242, 8 * MIB), process(7, None)],
            **values}


@pytest.fixture
def fake() -> Iterator[FakeNvml]:
    nv = FakeNvml([_gpu(), _gpu(nvmlDeviceGetTotalEnergyConsumption=NVMLError_NotSupported())])
    yield nv
    nv.release()  # let any call left hanging end


def test_session_inits_once_shuts_down_once_and_refuses_calls_outside(fake: FakeNvml) -> None:
    session = Session(1.0, nv=fake)
    with pytest.raises(NvmlError, match="no NVML session is open"):
        session.gpu_count()
    with session as nvml:
        assert nvml.gpu_count() == 2
        nvml.read(0, "uuid")
        nvml.read(0, "power.usage_mw")
        assert (fake.inits, fake.shutdowns) == (1, 0)
    assert (fake.inits, fake.shutdowns) == (1, 1)
    assert fake.calls.count("nvmlDeviceGetHandleByIndex") == 1  # the handle is kept per session
    with pytest.raises(NvmlError, match="no NVML session is open"):
        session.read(0, "uuid")


def test_session_shuts_down_when_the_caller_fails(fake: FakeNvml) -> None:
    with pytest.raises(ZeroDivisionError), Session(1.0, nv=fake):
        _ = 1 / 0
    assert fake.shutdowns == 1


def test_init_failure_names_the_call_and_carries_nvml_code(fake: FakeNvml) -> None:
    fake.init_error = FakeNVMLError(9)
    with pytest.raises(NvmlError) as caught, Session(1.0, nv=fake):
        pass
    assert str(caught.value) == "NVML init failed: NVMLError: Driver Not Loaded"
    assert (caught.value.call, caught.value.code, caught.value.timed_out) == ("init", 9, False)
    assert fake.shutdowns == 0


def test_a_hung_call_times_out_and_every_later_call_is_skipped(fake: FakeNvml) -> None:
    fake.hang.add("nvmlDeviceGetPowerUsage")
    started = time.monotonic()
    with Session(0.2, nv=fake) as nvml:
        with pytest.raises(NvmlError) as hung:
            nvml.read(1, "power.usage_mw")
        assert hung.value.timed_out and hung.value.gpu == 1
        assert hung.value.reason == "timeout: no answer within 0.2 s"
        calls = len(fake.calls)
        with pytest.raises(NvmlError, match=r"skipped: NVML stopped answering at "
                                            r"power\.usage_mw \(GPU 1\)"):
            nvml.read(0, "uuid")
        assert len(fake.calls) == calls  # skipped without touching the driver
    assert time.monotonic() - started < 2
    assert fake.shutdowns == 0  # shutdown would wait on the driver's lock


def test_nvml_errors_become_one_error_type_with_call_gpu_and_code(fake: FakeNvml) -> None:
    fake.gpus[1]["nvmlDeviceGetPowerUsage"] = NVMLError_GPUIsLost()
    with Session(1.0, nv=fake) as nvml:
        with pytest.raises(NvmlError) as lost:
            nvml.read(1, "power.usage_mw")
        assert str(lost.value) == ("NVML power.usage_mw failed on GPU 1: "
                                   "NVMLError_GPUIsLost: GPU is lost")
        assert (lost.value.gpu, lost.value.code, lost.value.timed_out) == (1, GPU_IS_LOST, False)
        calls = len(fake.calls)
        with pytest.raises(NvmlError, match="unknown reading"):
            nvml.read(0, "power.made_up")
        assert len(fake.calls) == calls
        assert nvml.read(0, "uuid") == "GPU-fake-0"  # an error is not a hang


def test_validate_readings_map_session_errors_to_reading_errors(fake: FakeNvml) -> None:
    fake.gpus[1]["nvmlDeviceGetPowerUsage"] = NVMLError_GPUIsLost()
    with Session(1.0, nv=fake) as nvml:
        readings = NvmlReadings(nvml)
        assert readings.system("gpu_count") == 2
        assert readings.gpu(0, "power.usage_mw") == 350_000
        with pytest.raises(ReadingError) as lost:
            readings.gpu(1, "power.usage_mw")
        assert (lost.value.key, lost.value.gpu) == ("power.usage_mw", 1)
        assert lost.value.reason == "NVMLError_GPUIsLost: GPU is lost"


def test_profile_sample_converts_units_and_keeps_missing_energy_as_none(
        fake: FakeNvml) -> None:
    fake.gpus[0]["nvmlDeviceGetUtilizationRates"] = utilization(73)
    fake.gpus[1]["nvmlDeviceGetUtilizationRates"] = utilization(5)
    with Session(1.0, nv=fake) as nvml:
        samples = sample(nvml)
    now = samples[0].t
    assert samples == [Sample(now, 0, 73.0, 40.0, 80.0, 350.0, 9_000_000),
                       Sample(now, 1, 5.0, 40.0, 80.0, 350.0, None)]


def test_cost_reads_processes_and_energy_through_the_session(fake: FakeNvml) -> None:
    with Session(1.0, nv=fake) as nvml:
        readings = read_nvml(nvml)
    procs = (GpuProc(4242, 8.0), GpuProc(7, None))
    assert readings == [GpuReading(0, "GPU-fake-0", 9_000_000, procs),
                        GpuReading(1, "GPU-fake-0", None, procs)]


def test_pynvml_is_imported_only_by_the_nvml_package() -> None:
    imports = re.compile(r"^\s*(import pynvml|from pynvml\b)", re.M)
    sources = [*(PYTHON / "colostack").rglob("*.py"), *(REPO / "bench").rglob("*.py")]
    outside = [str(p.relative_to(REPO)) for p in sources
               if imports.search(p.read_text()) and "colostack/nvml/" not in p.as_posix()]
    inside = [p.name for p in (PYTHON / "colostack/nvml").glob("*.py")
              if imports.search(p.read_text())]
    assert outside == []
    assert sorted(inside) == ["readers.py", "session.py"]  # the scan does see imports


def test_role_platform_table_is_what_the_generator_writes() -> None:
    assert ROLE_TABLE.read_text() == platforms.role_yaml(), (
        "regenerate: .venv/bin/python -m colostack.nvml.platforms > " + str(ROLE_TABLE))


def _role_pick(key: str) -> dict[str, object]:
    """The role's lookup (tasks/detect.yml): the first row whose `match` is found in the key."""
    rows = yaml.safe_load(platforms.role_yaml())["__nvidia_driver_platforms"]
    return next(r for r in rows if re.search(r["match"], key))


def test_role_table_rows_come_from_the_sku_table() -> None:
    h200 = _role_pick("PowerEdge XE8640 gpu=10de:2335 gpu=10de:2335")
    assert h200 == {"name": "HGX H200 8-GPU (SXM5)", "match": "gpu=10de:2335",
                    "nvswitch": True, "nvlink": True, "gpu_count": platforms.H200_SXM.gpu_count}
    board = _role_pick("PowerEdge XE9680 gpu=10de:2330")
    assert (board["name"], board["nvswitch"], board["gpu_count"]) == (
        "HGX H100 8-GPU (SXM5)", True, 8)
    assert _role_pick("R760xa gpu=10de:2330")["gpu_count"] == 0  # unknown board: any count
    assert _role_pick("R760xa gpu=10de:2331")["name"] == "H100 PCIe"
    assert _role_pick("R760xa gpu=10de:20b5")["name"] == "other NVIDIA GPU"
    assert _role_pick("R760xa ")["name"] == "no NVIDIA GPU"
    every_sku = {f"gpu=10de:{s.pci_device_id:04x}" for s in platforms.SKUS}
    assert every_sku <= {p.match for p in platforms.PLATFORMS}
