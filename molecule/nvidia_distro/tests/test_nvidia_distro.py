"""Debian 13 non-free driver 550.163.01: installed, pinned at 1001, held, blacklisted from unattended-upgrades."""

from __future__ import annotations

import json

DRIVER = "550.163.01"
HELD = ("nvidia-open-kernel-dkms", "nvidia-smi", "libnvidia-ml1", "libcuda1", "firmware-nvidia-gsp",
        "nvidia-persistenced")


def test_driver_packages_installed_at_exact_version(host):
    for name in HELD:
        pkg = host.package(name)
        assert pkg.is_installed, name
        assert pkg.version.startswith(f"{DRIVER}-"), (name, pkg.version)


def test_apt_mark_showhold_lists_driver_packages(host):
    held = set(host.check_output("apt-mark showhold").split())
    assert set(HELD) <= held


def test_pin_keeps_candidate_below_newer_available_version(host):
    # The decoy repository offers nvidia-smi 570.999.99; the 1001 pin keeps the candidate at 550.
    policy = host.check_output("apt-cache policy nvidia-smi")
    assert "570.999.99-1" in policy
    assert f"Candidate: {DRIVER}-" in policy
    assert "1001" in policy


def test_simulated_upgrade_proposes_no_nvidia_change(host):
    out = host.check_output("apt-get -s -o Debug::NoLocking=1 upgrade")
    changes = [line for line in out.splitlines() if line.startswith(("Inst ", "Remv "))]
    nvidia = [line for line in changes if "nvidia" in line or "libcuda" in line]
    assert nvidia == []


def test_unattended_upgrades_blacklist_covers_driver_packages(host):
    conf = host.file("/etc/apt/apt.conf.d/51colostack-nvidia-blacklist")
    assert conf.exists
    dump = host.check_output("apt-config dump Unattended-Upgrade::Package-Blacklist")
    for pattern in ("nvidia-", "libnvidia-", "cuda-", "nvidia-fabricmanager"):
        assert f'"{pattern}"' in dump


def test_nouveau_blacklisted(host):
    conf = host.file("/etc/modprobe.d/colostack-blacklist-nouveau.conf")
    assert conf.contains("^blacklist nouveau$")
    assert conf.contains("^options nouveau modeset=0$")


def test_persistenced_enabled(host):
    assert host.service("nvidia-persistenced").is_enabled


def test_local_fact_records_version_and_no_gpu(host):
    fact = json.loads(host.file("/etc/ansible/facts.d/nvidia_driver.fact").content_string)
    assert fact["version"] == DRIVER
    assert fact["source"] == "distro"
    assert fact["status"] == "no NVIDIA GPU detected"
