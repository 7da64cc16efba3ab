"""gpu_validate: the validation unit's systemd sandbox (molecule/sandbox_scores.py)."""

from __future__ import annotations

from sandbox_scores import check_unit


def test_validate_unit_stays_under_its_exposure_threshold(host):
    check_unit(host, "colostack-validate.service")


def test_validate_unit_keeps_only_the_capability_nvml_power_caps_need(host):
    props = host.check_output(
        "systemctl show -p CapabilityBoundingSet -p ProtectSystem -p PrivateNetwork colostack-validate.service")
    assert "CapabilityBoundingSet=cap_sys_admin\n" in props + "\n"
    assert "ProtectSystem=strict" in props and "PrivateNetwork=yes" in props
