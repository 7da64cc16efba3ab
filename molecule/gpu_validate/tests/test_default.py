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


FLAG = "/etc/nginx/vllm-drained"  # the vllm role's drain flag, which the quarantine reuses
REPLAY = "/var/lib/colostack/validate/replay.json"


def _timer_run(host, recording: str):
    host.check_output(f"cp /root/recordings/{recording}.json {REPLAY}")
    host.run("systemctl start colostack-validate.service")
    return host.check_output("systemctl show -p InvocationID --value colostack-validate.service")


def _journal(host, invocation: str) -> str:
    return host.check_output(f"journalctl _SYSTEMD_INVOCATION_ID={invocation} -o cat --no-pager")


def _quarantined_gauge(host) -> str:
    return next(line for line in host.file(PROM).content_string.splitlines()
                if line.startswith("colostack_gpu_quarantined "))


def test_timer_unit_quarantines_through_the_vllm_drain_flag(host):
    unit = host.run("systemctl cat colostack-validate.service").stdout
    release = "2" if host.backend.get_hostname() == "gpuval-healthy" else "0"
    assert f"--quarantine-flag {FLAG} --quarantine-release-after {release}" in unit
    write_paths = [line.split("=", 1)[1].split() for line in unit.splitlines() if line.startswith("ReadWritePaths=")]
    assert any("-/etc/nginx" in paths for paths in write_paths), unit  # the drain flag's folder, optional


def test_fatal_fault_drains_and_release_follows_the_operator_setting(host):
    original = host.check_output(f"sha256sum {REPLAY}").split()[0]
    host.check_output(f"cp {REPLAY} /root/recordings/original.json && rm -f {FLAG}")
    try:
        healthy_host = host.backend.get_hostname() == "gpuval-healthy"
        fault = "xid79-in-window" if healthy_host else "row-remap-pending"
        journal = _journal(host, _timer_run(host, fault))
        assert "QUARANTINE: node drained: GPU " in journal
        assert ("GPU 5 xid: XID 79" if healthy_host else "GPU 4 row_remap") in journal
        assert json.loads(host.file(FLAG).content_string)["by"] == "colostack validate quarantine"
        assert _quarantined_gauge(host) == "colostack_gpu_quarantined 1.0"
        assert "1 consecutive healthy runs" in _journal(host, _timer_run(host, "healthy"))
        assert host.file(FLAG).exists
        last = _journal(host, _timer_run(host, "healthy"))
        if healthy_host:
            assert "QUARANTINE released after 2 consecutive healthy runs" in last
            assert not host.file(FLAG).exists
            assert _quarantined_gauge(host) == "colostack_gpu_quarantined 0.0"
        else:
            assert "automatic release off" in last
            assert host.file(FLAG).exists
            assert _quarantined_gauge(host) == "colostack_gpu_quarantined 1.0"
    finally:
        host.check_output(f"cp /root/recordings/original.json {REPLAY} && rm -f {FLAG}")
    assert host.check_output(f"sha256sum {REPLAY}").split()[0] == original
