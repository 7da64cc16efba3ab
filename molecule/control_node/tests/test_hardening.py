"""control_node: the rollout units' systemd sandbox (molecule/sandbox_scores.py)."""

from __future__ import annotations

from sandbox_scores import check_unit


def test_rollout_unit_stays_under_its_exposure_threshold(host):
    check_unit(host, "colostack-rollout-nightly-noop.service")


def test_rollout_unit_runs_as_the_rollout_user_with_no_capabilities(host):
    props = host.check_output("systemctl show -p User -p CapabilityBoundingSet -p NoNewPrivileges "
                              "colostack-rollout-nightly-noop.service")
    assert "User=colostack" in props and "NoNewPrivileges=yes" in props
    assert "CapabilityBoundingSet=\n" in props + "\n"
