"""gpu_validate on replayed SYNTHETIC H100 SXM5 recordings: report, textfile, timer, service."""

from __future__ import annotations

import json
import os

import pytest
import testinfra.utils.ansible_runner

HOSTS = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")
REPORT = "/var/lib/colostack/validate/report.json"
PROM = "/var/lib/prometheus/node-exporter/colostack_gpu_validate.prom"
EXPECTED = {"gpuval-healthy": ("healthy", 0), "gpuval-faulty": ("unhealthy", 1)}


def _report(host):
    return json.loads(host.file(REPORT).content_string)


def test_report_on_host_has_the_verdict_of_its_recording(host):
    verdict, code = EXPECTED[host.backend.get_hostname()]
    report = _report(host)
    assert report["verdict"] == verdict and report["exit_code"] == code
    assert report["synthetic"] is True
    assert report["source"] == "replay:/var/lib/colostack/validate/replay.json"
    assert len(report["gpus"]) == 8
    failing = sorted((r["gpu"], r["check"]) for r in report["results"] if r["status"] != "pass")
    assert failing == ([] if code == 0 else [(3, "pcie_link")])


def test_power_caps_from_inventory_were_checked_against_constraints(host):
    if host.backend.get_hostname() != "gpuval-healthy":
        pytest.skip("only the healthy host has caps in its inventory")
    report = _report(host)
    assert any("not applied" in n and "700" in n for n in report["notes"])
    caps = [r for r in report["results"] if r["check"] == "power_cap"]
    assert len(caps) == 8 and all(r["limit"] == 700.0 for r in caps)


def test_host_without_caps_neither_sets_nor_expects_one(host):
    if host.backend.get_hostname() != "gpuval-faulty":
        pytest.skip("only the faulty host keeps the default (no caps)")
    unit = host.run("systemctl cat colostack-validate.service").stdout
    assert "ExecStart=" in unit and "power-cap" not in unit
    assert not any("not applied" in n for n in _report(host)["notes"])


def test_textfile_has_one_gauge_per_check_and_gpu(host):
    text = host.file(PROM).content_string
    assert host.file(PROM).mode == 0o644
    gauges = [line for line in text.splitlines() if line.startswith("colostack_gpu_check_passed{")]
    report = _report(host)
    assert len(gauges) == len(report["results"])
    healthy = host.backend.get_hostname() == "gpuval-healthy"
    assert ('colostack_gpu_check_passed{check="pcie_link",gpu="3"} '
            + ("1.0" if healthy else "0.0")) in text
    assert f"colostack_gpu_validate_exit_code {report['exit_code']}.0" in text


def test_validator_runs_from_its_venv_with_the_pinned_nvml_binding(host):
    pip = host.run("/opt/colostack/venv/bin/python -m pip list --format=json")
    assert pip.rc == 0
    versions = {p["name"].lower(): p["version"] for p in json.loads(pip.stdout)}
    assert versions["nvidia-ml-py"] == "13.615.71"
    assert "colostack" in versions


def test_timer_is_enabled_and_scheduled(host):
    timer = host.service("colostack-validate.timer")
    assert timer.is_enabled and timer.is_running
    listed = host.run("systemctl list-timers --all --no-legend colostack-validate.timer")
    assert "colostack-validate.service" in listed.stdout


def test_periodic_run_refreshes_the_textfile_and_fails_the_unit_when_unhealthy(host):
    before = host.file(PROM).mtime
    host.run("sleep 1.1")
    run = host.run("systemctl start colostack-validate.service")
    healthy = host.backend.get_hostname() == "gpuval-healthy"
    assert (run.rc == 0) == healthy
    assert host.file(PROM).mtime > before
    result = host.run("systemctl show -p Result --value colostack-validate.service").stdout.strip()
    assert result == ("success" if healthy else "exit-code")
    if not healthy:
        journal = host.run("journalctl -u colostack-validate.service --no-pager -o cat")
        assert "FAIL: GPU 3 pcie_link: under load Gen4 x16" in journal.stdout
