"""vllm scenario: the vLLM unit's systemd sandbox (molecule/sandbox_scores.py), on the STAND-IN vLLM."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ssh_host
from sandbox_scores import check_unit


@pytest.mark.parametrize("name", ["vllm-node-a", "vllm-node-b"])
def test_vllm_unit_stays_under_its_exposure_threshold(name: str) -> None:
    check_unit(ssh_host(name), "vllm.service")


def test_vllm_runs_unprivileged_in_a_read_only_system() -> None:
    node: Any = ssh_host("vllm-node-a")
    pid = node.check_output("systemctl show -p MainPID --value vllm")
    status = node.check_output(f"cat /proc/{pid}/status")
    assert "CapEff:\t0000000000000000" in status and "NoNewPrivs:\t1" in status
    assert node.check_output(f"stat -c %U /proc/{pid}") == "vllm"
    props = node.check_output("systemctl show -p ProtectSystem -p ReadWritePaths -p ProtectHome vllm")
    assert "ProtectSystem=strict" in props and "ProtectHome=yes" in props
    assert "ReadWritePaths=/var/lib/vllm" in props
