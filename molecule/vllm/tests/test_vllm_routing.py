"""Weighted routing between owned nodes and a cloud endpoint, and playbooks/route_shift.yml.

Runs after test_vllm.py (file order) and keeps the hosts it leaves: vllm-node-a stays the owned
node, vllm-node-b becomes the "cloud" endpoint, a STAND-IN: the same stand-in vLLM behind its TLS
nginx proxy, now with a key of its own that clients never see. Real HAProxy, nginx and journald.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ssh_host
from test_vllm import (
    KEY,
    LOCAL,
    MODEL,
    REPO,
    http,
    playbook,
    served_by,
    wait_for,
    write_script,
)

CLOUD_KEY = "standin-cloud-key-Hq38Zr0Wm5Ux"  # test-only secret of the STAND-IN cloud endpoint
EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
ROUTE_FILE = Path(os.environ.get("MOLECULE_INVENTORY_FILE", "/nonexistent")).parent / "group_vars" / "gateways" / "route.yml"
GATEWAY_VARS = {
    "inference_gateway_backends": [{"name": "node-a", "address": "vllm-node-a"}],
    "inference_gateway_cloud_endpoints": [{
        "name": "standin", "address": "vllm-node-b", "api_key": CLOUD_KEY,
        "ca_file": "/etc/haproxy/tls/node-ca.pem"}],  # a real endpoint: "@system-ca", the default
    "inference_gateway_client_api_key": KEY,
}
SHIFT = REPO / "playbooks" / "route_shift.yml"


@pytest.fixture(scope="module")
def gw() -> Any:
    return ssh_host("vllm-gw")


@pytest.fixture(scope="module")
def node_b() -> Any:
    return ssh_host("vllm-node-b")


def apply_gateway(verbosity: int = 0) -> subprocess.CompletedProcess[str]:
    extra = EPHEMERAL / "routing-gateway.json"
    extra.write_text(json.dumps(GATEWAY_VARS))
    run = playbook("apply_gateway.yml", "vllm-gw", "-e", f"@{extra}", verbosity=verbosity)
    assert run.returncode == 0, run.stdout[-3000:]
    return run


def recap_changed(run: subprocess.CompletedProcess[str]) -> int:
    line = [x for x in run.stdout.splitlines() if x.startswith("vllm-gw ")][-1]
    return int(line.split("changed=")[1].split()[0])


def shift(steps: list[int], **extra: Any) -> subprocess.CompletedProcess[str]:
    variables = {"route_shift_steps": steps, "route_shift_hold_seconds": 6, "route_shift_min_requests": 5} | extra
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="true")
    return subprocess.run(["ansible-playbook", str(SHIFT), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
                           "-e", json.dumps(variables)],
                          env=env, capture_output=True, text=True, timeout=600, check=False, cwd=REPO)


def said(run: subprocess.CompletedProcess[str]) -> str:
    return " ".join((run.stdout + run.stderr).split())


def live_share(gw: Any) -> int:
    out = gw.check_output("echo 'show map /etc/haproxy/colostack-route.map' | socat stdio /run/haproxy/admin.sock")
    return int(out.split()[-1])


def inventory_share() -> int:
    return int(yaml.safe_load(ROUTE_FILE.read_text())["inference_gateway_owned_percent"])


def split(gw: Any, requests: int) -> dict[str, int]:
    """Completions through the gateway, 8 at a time, counted by the host that served each."""
    body = json.dumps({"model": MODEL, "prompt": "colostack", "max_tokens": 1})
    out = gw.check_output(
        f"rm -rf /tmp/split && mkdir /tmp/split && seq {requests} | xargs -P 8 -I{{}} curl -sk -m 60"
        f" -H 'Authorization: Bearer {KEY}' -H 'Content-Type: application/json' -d '{body}'"
        f" -o /tmp/split/{{}} {LOCAL}/v1/completions; for f in /tmp/split/*; do cat $f; echo; done")
    counts: dict[str, int] = {}
    for line in out.splitlines():
        host = served_by(json.loads(line)) if line.startswith("{") and "system_fingerprint" in line else "error"
        counts[host] = counts.get(host, 0) + 1
    return counts


REQUEST = (f"curl -sk -m 30 -o /dev/null -w '%{{http_code}}' -H 'Authorization: Bearer {KEY}'"
           f" -H 'Content-Type: application/json'"
           f" -d '{json.dumps({'model': MODEL, 'prompt': 'colostack', 'max_tokens': 1})}' {LOCAL}/v1/completions")


def background_load(gw: Any, seconds: int) -> None:
    """Four request loops on the gateway for the given time (the guard needs traffic to judge)."""
    write_script(gw, "/root/routing-load.sh",
                 f'end=$(( $(date +%s) + $1 )); while [ "$(date +%s)" -lt "$end" ]; do {REQUEST}; sleep 0.1; done\n')
    for n in range(4):
        gw.run_test(f"systemd-run --collect --unit=routing-load-{n}-$(date +%s%N) /bin/sh /root/routing-load.sh {seconds}")


def within(count: int, total: int, share: float) -> bool:
    """count/total against the expected share, within 4 standard deviations of a binomial draw."""
    sigma = (total * share * (1 - share)) ** 0.5
    return abs(count - total * share) <= 4 * sigma + 1


def test_a_cloud_endpoint_without_the_client_key_is_refused_before_any_change(gw: Any) -> None:
    extra = EPHEMERAL / "routing-no-client-key.json"
    extra.write_text(json.dumps({k: v for k, v in GATEWAY_VARS.items() if k != "inference_gateway_client_api_key"}))
    run = playbook("apply_gateway.yml", "vllm-gw", "-e", f"@{extra}", verbosity=0)
    assert run.returncode == 2
    out = said(run)
    assert "inference_gateway_cloud_endpoints needs unique names and inference_gateway_client_api_key" in out
    assert "changed=0" in out
    assert not gw.file("/etc/haproxy/colostack-keys.map").exists


def test_all_cloud_to_start_with_the_cloud_key_sent_instead_of_the_clients(gw: Any, node_b: Any) -> None:
    # The STAND-IN cloud: node-b's vLLM now takes only its own key.
    node_b.run_test(f"sed -i 's/^VLLM_API_KEY=.*/VLLM_API_KEY={CLOUD_KEY}/' /etc/vllm/vllm.env && systemctl restart vllm")
    wait_for(lambda: http(node_b, f"{LOCAL}/v1/models", key=CLOUD_KEY)[0] == 200, 60, "node-b serving its new key")
    assert http(node_b, f"{LOCAL}/v1/models", key=KEY)[0] == 401  # the client's key does not open the cloud
    ROUTE_FILE.parent.mkdir(parents=True, exist_ok=True)
    ROUTE_FILE.write_text("inference_gateway_owned_percent: 0\n")  # where a repatriation starts
    apply_gateway(verbosity=3)  # logged at -vvv: test_no_key_in_the_logs reads the log
    assert gw.file("/etc/haproxy/colostack-keys.map").mode == 0o600
    wait_for(lambda: "UP" in gw.check_output("curl -s 'http://127.0.0.1:8404/stats;csv' | grep '^cloud_standin,standin,'"),
             20, "the cloud endpoint UP (its health check sends its key)")
    assert live_share(gw) == 0
    assert split(gw, 20) == {"vllm-node-b": 20}
    assert http(gw, f"{LOCAL}/v1/models", key="wrong-key-0000000000")[0] == 401  # checked by the gateway
    assert http(gw, f"{LOCAL}/v1/models")[0] == 401


def test_route_shift_moves_the_share_in_guarded_steps_and_writes_the_inventory(gw: Any) -> None:
    background_load(gw, 40)
    run = shift([20, 50])
    out = said(run)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "20 % owned passed:" in out and "50 % owned passed:" in out
    assert live_share(gw) == 50 and inventory_share() == 50
    assert gw.file("/etc/haproxy/colostack-route.map").content_string == "owned_percent 50\n"
    counts = split(gw, 200)
    assert set(counts) == {"vllm-node-a", "vllm-node-b"}, counts
    assert within(counts["vllm-node-a"], 200, 0.5), counts


def test_the_next_gateway_run_keeps_the_shifted_share(gw: Any) -> None:
    assert recap_changed(apply_gateway()) == 0
    assert live_share(gw) == 50


def test_route_shift_refuses_when_the_inventory_and_the_gateway_disagree(gw: Any) -> None:
    ROUTE_FILE.write_text("inference_gateway_owned_percent: 30\n")
    try:
        run = shift([100])
    finally:
        ROUTE_FILE.write_text("inference_gateway_owned_percent: 50\n")
    assert run.returncode != 0
    out = said(run)
    assert "ROUTE SHIFT REFUSED at vllm-gw: it serves 50 % owned" in out and "the inventory says 30" in out
    assert live_share(gw) == 50


def test_a_failed_owned_node_sends_its_share_to_the_cloud_within_the_check_interval(gw: Any) -> None:
    node_a = ssh_host("vllm-node-a")
    write_script(gw, "/root/routing-failover.sh",
                 f'for i in $(seq 80); do echo "$(date +%s.%N) $({REQUEST})" >> /tmp/failover.log; sleep 0.1; done\n')
    gw.run_test("rm -f /tmp/failover.log && systemd-run --collect --unit=routing-failover /bin/sh /root/routing-failover.sh")
    time.sleep(2)
    stopped = time.time()
    node_a.run_test("systemctl stop vllm")
    try:
        wait_for(lambda: gw.run("systemctl is-active routing-failover").stdout.strip() != "active", 120,
                 "the request loop to end")
        results = [(float(t), code) for t, code in (line.split() for line in gw.file("/tmp/failover.log").content_string.splitlines())]
    finally:
        node_a.run_test("systemctl start vllm")
    assert len(results) == 80
    after = [(t, code) for t, code in results if t > stopped]
    assert len(after) > 40
    # Down after check_fall (2) failed checks 1 s apart: errors only until then, then every request served.
    late_errors = [(round(t - stopped, 2), code) for t, code in after if code != "200" and t > stopped + 3]
    assert late_errors == []
    assert [code for t, code in after if t > stopped + 3] == ["200"] * len([t for t, _ in after if t > stopped + 3])
    wait_for(lambda: "UP" in gw.check_output("curl -s 'http://127.0.0.1:8404/stats;csv' | grep '^vllm_nodes,node-a,'"),
             180, "node-a back UP")


def test_a_guard_trip_puts_every_gateway_back_and_the_inventory_too(gw: Any) -> None:
    background_load(gw, 25)
    run = shift([100], route_shift_max_p95_ms=50)  # the stand-in takes about 100 ms per token
    assert run.returncode != 0
    out = said(run)
    assert "ROUTE SHIFT HALTED at 100 % owned:" in out
    assert "Every gateway is back at 50 % owned, and the inventory says so" in out
    p95 = re.search(r"p95 ([0-9.]+) ms \(bound 50\)", out)
    assert p95 and float(p95.group(1)) > 50, out[-2000:]
    assert live_share(gw) == 50 and inventory_share() == 50


def test_no_key_in_the_logs(gw: Any) -> None:
    log = EPHEMERAL / "ansible-vvv.log"
    assert "Write the client's and the cloud endpoints' keys" in log.read_text()
    for secret in (CLOUD_KEY, KEY):
        assert secret not in log.read_text()
        assert secret not in gw.check_output("journalctl --no-pager -o cat")
