"""Prometheus on cost-ops scrapes real targets on both hosts and a real alert fires.

cost-node runs Debian's node_exporter and the vLLM STAND-IN (tests/fixtures/vllm_standin) behind the
vllm role's real nginx TLS proxy; cost-ops runs Debian's Prometheus with colostack's rules
(prometheus_alert_for_down 20s, 5 s scrapes), node_exporter and the gateway's HAProxy. What this
proves: the scrape configuration built from the inventory reaches its targets (TLS checked against
the nodes' certificates), the rules load, and ColostackVllmDown goes pending, fires and resolves on
a real outage. What it does not prove: real vLLM's metric values (the stand-in serves a subset of
the names). It runs after the cost tests (file order): they bill the pids vLLM had at converge.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ssh_host

SCENARIO = Path(__file__).resolve().parents[1]
REPO = SCENARIO.parents[1]
MON_VARS: dict[str, Any] = yaml.safe_load((SCENARIO / "vars/monitoring.yml").read_text())
TEXTFILE_DIR = yaml.safe_load((REPO / "roles/node_exporter/defaults/main.yml").read_text())["node_exporter_textfile_dir"]
RULES = (REPO / "roles/prometheus/templates/colostack.rules.yml.j2").read_text()


@pytest.fixture(scope="module")
def mon() -> Any:
    return ssh_host("cost-ops")


@pytest.fixture(scope="module")
def node() -> Any:
    return ssh_host("cost-node")


def api(mon: Any, path: str) -> Any:
    out = mon.check_output(f"curl -fsS 'http://127.0.0.1:9090/api/v1/{path}'")
    body = json.loads(out)
    assert body["status"] == "success", body
    return body["data"]


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(2)


def targets(mon: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(t["labels"]["job"], t["labels"]["instance"]): t for t in api(mon, "targets")["activeTargets"]}


def vllm_down_state(mon: Any) -> str:
    alerts = [a for a in api(mon, "alerts")["alerts"]
              if a["labels"]["alertname"] == "ColostackVllmDown" and a["labels"]["instance"] == "cost-node"]
    return alerts[0]["state"] if alerts else "inactive"


def test_node_exporter_serves_the_textfile_directory_the_validator_writes_to(node: Any) -> None:
    assert node.service("prometheus-node-exporter").is_running
    assert node.service("prometheus-node-exporter").is_enabled
    node.run_expect([0], f"printf 'colostack_observability_probe 7\\n' > {TEXTFILE_DIR}/probe.prom")
    try:
        metrics = node.check_output("curl -fsS http://127.0.0.1:9100/metrics")
        assert "colostack_observability_probe 7" in metrics
        assert "node_textfile_scrape_error 0" in metrics
    finally:
        node.run(f"rm -f {TEXTFILE_DIR}/probe.prom")


def test_prometheus_scrapes_node_exporters_and_vllm_over_tls(mon: Any) -> None:
    found = wait_for(lambda: (t := targets(mon)) and all(x["health"] == "up" for x in t.values()) and t,
                     90, "every target up")
    assert set(found) == {("node", "cost-ops"), ("node", "cost-node"), ("vllm", "cost-node"),
                          ("vllm", "cost-node/embed"), ("haproxy", "cost-ops")}
    assert found[("vllm", "cost-node")]["scrapeUrl"] == "https://cost-node:443/metrics"
    # The node's second model (vllm_instances) on its own proxy port.
    assert found[("vllm", "cost-node/embed")]["scrapeUrl"] == "https://cost-node:8444/metrics"
    assert found[("node", "cost-node")]["labels"]["gpu_node"] == "true"
    assert found[("haproxy", "cost-ops")]["scrapeUrl"] == "http://cost-ops:8404/metrics"
    series = api(mon, "query?query=vllm:num_requests_running")["result"]
    assert sorted(s["metric"]["instance"] for s in series) == ["cost-node", "cost-node/embed"]


def test_every_rule_of_the_template_is_loaded(mon: Any) -> None:
    loaded = {r["name"] for g in api(mon, "rules")["groups"] for r in g["rules"]}
    written = {line.split("alert:")[1].strip() for line in RULES.splitlines() if "- alert:" in line}
    assert written and loaded == written


def test_vllm_down_goes_pending_then_firing_then_resolves(mon: Any, node: Any) -> None:
    assert vllm_down_state(mon) == "inactive"
    stopped = time.monotonic()
    node.run_expect([0], "systemctl stop vllm")
    try:
        wait_for(lambda: vllm_down_state(mon) == "pending", 40, "ColostackVllmDown pending")
        pending = time.monotonic()
        wait_for(lambda: vllm_down_state(mon) == "firing", 60, "ColostackVllmDown firing")
        firing = time.monotonic()
        # It fires only after prometheus_alert_for_down (20s) of pending.
        assert firing - pending >= 20 - 10  # minus a scrape and an evaluation interval
        assert MON_VARS["prometheus_alert_for_down"] == "20s"
    finally:
        restarted = time.monotonic()
        node.run_expect([0], "systemctl start vllm")
    wait_for(lambda: vllm_down_state(mon) == "inactive", 90, "ColostackVllmDown resolved")
    resolved = time.monotonic()
    assert targets(mon)[("vllm", "cost-node")]["health"] == "up"
    # For the record (the scenario's log does not show passing tests' output).
    (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "vllm-down-timings.txt").write_text(
        f"pending {pending - stopped:.0f} s after stop, firing {firing - pending:.0f} s after pending, "
        f"resolved {resolved - restarted:.0f} s after start\n")


def test_prometheus_refuses_a_bad_alert_duration_before_any_change(mon: Any) -> None:
    before = mon.check_output("sha256sum /etc/prometheus/colostack.rules.yml /etc/prometheus/prometheus.yml")
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="true")
    run = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(SCENARIO / "apply_prometheus.yml"),
         "-e", "prometheus_alert_for_down=soon"],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    out = " ".join((run.stdout + run.stderr).split())
    assert run.returncode == 2
    assert "prometheus_alert_for_down: must be a duration" in out and "(got 'soon')" in out
    assert "Install prometheus" not in out  # stopped before touching the host
    assert mon.check_output("sha256sum /etc/prometheus/colostack.rules.yml /etc/prometheus/prometheus.yml") == before
