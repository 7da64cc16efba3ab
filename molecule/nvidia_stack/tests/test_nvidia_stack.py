"""NVIDIA stack against the STAND-IN NVIDIA repository (tests/fixtures/nvidia_repo_standin).

Proves pinning, holds, the branch update 550 -> 570 and the rollback 570 -> 550 (driver and fabric
manager together), refusals before any change, and CDI refresh; against stand-in packages, not NVIDIA's.
Tests run in file order: refusals and the pin on branch A first, then the update, then the rollback.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

A, B = "550.163.01", "570.172.08"
HERE = Path(__file__).resolve().parent.parent
DRIVER_PACKAGES = ("nvidia-open", "nvidia-kernel-open-dkms", "libnvidia-ml1", "libcuda1", "nvidia-smi",
                   "nvidia-persistenced", "nvidia-fabricmanager")


def playbook(name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(HERE / name), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=1200)


def versions(host) -> dict[str, str]:
    out = host.check_output("dpkg-query -W -f='${Package} ${Version}\\n' " + " ".join(DRIVER_PACKAGES))
    return dict(line.split(" ", 1) for line in out.splitlines())


def state(host) -> tuple[dict[str, str], str, str]:
    prefs = host.file("/etc/apt/preferences.d/colostack-nvidia-driver").content_string
    return versions(host), prefs, host.check_output("apt-mark showhold")


def assert_on(host, version: str) -> None:
    assert set(versions(host).values()) == {f"{version}-1"}, versions(host)
    held = set(host.check_output("apt-mark showhold").split())
    assert set(DRIVER_PACKAGES) <= held


def test_exact_pin_holds_driver_and_fabric_manager_on_branch_a(host):
    assert_on(host, A)
    policy = host.check_output("apt-cache policy nvidia-open")
    assert f"{B}-1" in policy and f"Candidate: {A}-1" in policy
    upgrade = host.check_output("apt-get -s -o Debug::NoLocking=1 upgrade")
    assert [ln for ln in upgrade.splitlines() if ln.startswith("Inst ") and "nvidia" in ln] == []


def test_debian_archive_driver_packages_are_blocked(host):
    # Debian 13 non-free ships libnvidia-ml1 550.163.01-2; mixing it with NVIDIA's -1 breaks dependencies.
    policy = host.check_output("apt-cache policy libnvidia-ml1")
    assert f"{A}-2" in policy and f"Candidate: {A}-1" in policy


def test_cuda_toolkit_pinned_held_and_on_path(host):
    assert host.package("cuda-toolkit-12-4").version == "12.4.1-1"
    assert "cuda-toolkit-12-4" in host.check_output("apt-mark showhold").split()
    assert host.file("/etc/profile.d/colostack-cuda.sh").contains("/usr/local/cuda-12.4/bin")
    assert host.file("/etc/ld.so.conf.d/colostack-cuda.conf").contains("/usr/local/cuda-12.4/lib64")


def test_dcgm_and_container_toolkit_pinned_and_held(host):
    assert host.package("datacenter-gpu-manager-4-core").version == "1:4.2.3-1"
    assert host.package("nvidia-container-toolkit").version == "1.17.8-1"
    held = set(host.check_output("apt-mark showhold").split())
    assert {"datacenter-gpu-manager-4-core", "nvidia-container-toolkit", "nvidia-container-toolkit-base"} <= held
    assert host.service("nvidia-dcgm").is_enabled


def test_cdi_spec_written_for_installed_driver(host):
    assert host.file("/etc/cdi/nvidia.yaml").contains(f"libnvidia-ml.so.{A}")


def test_no_gpu_reported_and_fabric_manager_enabled(host):
    fact = json.loads(host.file("/etc/ansible/facts.d/nvidia_driver.fact").content_string)
    assert fact["version"] == A and fact["fabricmanager"] is True
    assert fact["status"] == "no NVIDIA GPU detected"
    assert host.service("nvidia-fabricmanager").is_enabled
    assert not host.service("nvidia-fabricmanager").is_running  # no NVSwitch device to manage


@pytest.fixture(scope="module")
def refusals(host):
    before = state(host)
    run = playbook("refusals.yml")
    return run, before, state(host)


@pytest.mark.parametrize(("case", "names"), [
    ("fabricmanager_mismatch", ["nvidia_driver_fabricmanager_version (570.172.08)", "nvidia_driver_version"]),
    ("outside_matrix", ["cuda_toolkit_version=12.8", "nvidia_driver_version=550.163.01"]),
    ("malformed_version", ["nvidia_driver_version '570.x'"]),
    ("unknown_source", ["nvidia_driver_source", "ppa"]),
    ("branch_missing", ["nvidia_driver_version 999.10.01", "branch 999 is missing"]),
])
def test_bad_request_refused_naming_variable(refusals, case, names):
    run, _, _ = refusals
    assert f"ACCEPTED {case}" not in run.stdout
    line = next((ln for ln in run.stdout.splitlines() if f"REFUSED {case}:" in ln), "")
    for name in names:
        assert name in line, (case, name, line or run.stdout[-3000:])


def test_refusals_changed_nothing(refusals):
    _, before, after = refusals
    assert after == before


def test_update_moves_driver_and_fabric_manager_together(host):
    run = playbook("change_driver.yml", "-e", f"nvidia_driver_version={B}", "-e", "cuda_toolkit_version=12.8")
    assert run.returncode == 0, run.stdout[-3000:]
    assert_on(host, B)
    fact = json.loads(host.file("/etc/ansible/facts.d/nvidia_driver.fact").content_string)
    assert (fact["version"], fact["previous_version"]) == (B, A)
    assert host.file("/etc/cdi/nvidia.yaml").contains(f"libnvidia-ml.so.{B}")


def test_rollback_downgrades_to_previous_version(host):
    run = playbook("change_driver.yml", "-e", f"nvidia_driver_version={A}", "-e", "cuda_toolkit_version=12.4")
    assert run.returncode == 0, run.stdout[-3000:]
    assert_on(host, A)
    fact = json.loads(host.file("/etc/ansible/facts.d/nvidia_driver.fact").content_string)
    assert (fact["version"], fact["previous_version"]) == (A, B)
    assert host.file("/etc/cdi/nvidia.yaml").contains(f"libnvidia-ml.so.{A}")
