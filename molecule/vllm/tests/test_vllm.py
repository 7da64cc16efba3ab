"""vllm scenario: the vllm and inference_gateway roles on real systemd, nginx and HAProxy.

The nodes run a STAND-IN for vLLM (tests/fixtures/vllm_standin), installed by the role's venv
method. These tests prove the roles' wiring (unit, 0600 env file, TLS allowlist proxy, gateway
health checks, drain/undrain, argument validation), not vLLM itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ssh_forward, ssh_host

SCENARIO = Path(__file__).resolve().parent.parent
REPO = SCENARIO.parent.parent
NODE_VARS: dict[str, Any] = yaml.safe_load((SCENARIO / "vars" / "nodes.yml").read_text())
KEY: str = NODE_VARS["vllm_api_key"]
MODEL: str = NODE_VARS["vllm_served_model_name"]
LOCAL = "https://127.0.0.1"  # the nginx proxy on a node, or HAProxy on the gateway
PKI = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "pki"  # the node CA


@pytest.fixture(scope="module")
def gw() -> Any:
    return ssh_host("vllm-gw")


@pytest.fixture(scope="module")
def node_a() -> Any:
    return ssh_host("vllm-node-a")


@pytest.fixture(scope="module")
def node_b() -> Any:
    return ssh_host("vllm-node-b")


def http(host: Any, url: str, *, key: str | None = None, payload: dict[str, Any] | None = None,
         method: str | None = None) -> tuple[int, str]:
    """curl from inside a test host; returns (HTTP status, body). Status 0: no connection."""
    args = ["curl", "-sk", "-m", "60", "-w", "\n%{http_code}"]
    if method:
        args += ["-X", method]
    if key:
        args += ["-H", f"Authorization: Bearer {key}"]
    if payload is not None:
        args += ["-H", "Content-Type: application/json", "-d", json.dumps(payload)]
    out = host.run(" ".join(["%s"] * (len(args) + 1)), *args, url)
    body, _, code = out.stdout.rpartition("\n")
    return int(code or 0), body


def complete(host: Any, base: str, max_tokens: int = 2) -> tuple[int, dict[str, Any]]:
    code, body = http(host, f"{base}/v1/completions", key=KEY,
                      payload={"model": MODEL, "prompt": "colostack", "max_tokens": max_tokens})
    return code, (json.loads(body) if code == 200 else {"error": body})


def served_by(response: dict[str, Any]) -> str:
    return str(response.get("system_fingerprint", "")).removeprefix("standin-")


def playbook(name: str, target: str, *extra: str, verbosity: int = 3,
             timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(REPO / "roles"), ANSIBLE_VERBOSITY=str(verbosity),
               ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="true")
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(SCENARIO / name),
           "-e", f"target={target}", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def backend_status(gw: Any) -> dict[str, str]:
    csv = gw.check_output("curl -s 'http://127.0.0.1:8404/stats;csv'")
    rows = [line.split(",") for line in csv.splitlines() if line.startswith("vllm_nodes,")]
    return {row[1]: row[17] for row in rows}


def check_status(gw: Any, server: str) -> str:
    """The last health check's result of a server (HAProxy stats column check_status, e.g. L6RSP)."""
    header, *lines = gw.check_output("curl -s 'http://127.0.0.1:8404/stats;csv'").splitlines()
    column = header.lstrip("# ").split(",").index("check_status")
    rows = [line.split(",") for line in lines if line.startswith(f"vllm_nodes,{server},")]
    return str(rows[0][column])


def in_flight(gw: Any) -> int:
    """Requests the gateway has open to the nodes now (the stats' scur column)."""
    csv = gw.check_output("curl -s 'http://127.0.0.1:8404/stats;csv'")
    rows = [line.split(",") for line in csv.splitlines() if line.startswith("vllm_nodes,")]
    return sum(int(row[4] or 0) for row in rows if row[1] != "BACKEND")


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_unit_runs_and_env_file_is_root_only(node_a: Any, node_b: Any) -> None:
    for node in (node_a, node_b):
        assert node.service("vllm").is_running
        assert node.service("vllm").is_enabled
        env = node.file("/etc/vllm/vllm.env")
        assert (env.mode, env.user, env.group) == (0o600, "root", "root")
        assert env.contains(f"^VLLM_API_KEY={KEY}$")
        # The venv method installed the stand-in wheel under the real package's name.
        assert "0.0.0+standin" in node.check_output("/opt/vllm/venv/bin/pip show vllm")


def test_key_is_not_on_the_command_line(node_a: Any) -> None:
    pid = node_a.check_output("systemctl show -p MainPID --value vllm")
    cmdline = node_a.check_output(f"tr '\\0' ' ' < /proc/{pid}/cmdline")
    assert "serve /srv/models/standin-model --served-model-name standin" in cmdline
    assert "--host 127.0.0.1" in cmdline
    assert KEY not in cmdline
    # Drain is vLLM's own: --shutdown-timeout, with the unit's stop timeout 30 s above it.
    assert f"--shutdown-timeout {NODE_VARS['vllm_drain_timeout']}" in cmdline
    stop = node_a.check_output("systemctl show -p TimeoutStopUSec --value vllm")
    assert stop == f"{(NODE_VARS['vllm_drain_timeout'] + 30) // 60}min {(NODE_VARS['vllm_drain_timeout'] + 30) % 60}s"


@pytest.mark.parametrize("where", ["node proxy", "gateway"])
def test_v1_needs_the_key(where: str, gw: Any, node_a: Any) -> None:
    host = node_a if where == "node proxy" else gw
    assert http(host, f"{LOCAL}/v1/models")[0] == 401
    assert http(host, f"{LOCAL}/v1/models", key="wrong-key-0000000000")[0] == 401
    code, body = http(host, f"{LOCAL}/v1/models", key=KEY)
    assert code == 200
    assert [m["id"] for m in json.loads(body)["data"]] == [MODEL]
    first, second = complete(host, LOCAL), complete(host, LOCAL)
    assert first[0] == second[0] == 200
    assert first[1]["choices"][0]["text"] == second[1]["choices"][0]["text"] != ""


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/pause"), ("GET", "/pause"), ("POST", "/tokenize"), ("GET", "/version"),
     ("GET", "/v1/../version"), ("GET", "/docs"), ("GET", "/")],
)
def test_endpoints_outside_the_allowlist_are_404(method: str, path: str, gw: Any, node_a: Any) -> None:
    # vLLM (here the stand-in) serves these without the key; only the proxy hides them.
    if path in ("/pause", "/tokenize", "/version"):
        assert http(node_a, f"http://127.0.0.1:8000{path}", method=method)[0] == 200
    assert http(node_a, f"{LOCAL}{path}", key=KEY, method=method)[0] == 404
    assert http(gw, f"{LOCAL}{path}", key=KEY, method=method)[0] == 404


def test_vllm_port_only_on_localhost(node_a: Any, node_b: Any) -> None:
    listeners = node_a.check_output("ss -ltnH 'sport = :8000'").split()
    assert "127.0.0.1:8000" in listeners
    assert not [word for word in listeners if word.endswith(":8000") and word != "127.0.0.1:8000"]
    assert http(node_b, "http://vllm-node-a:8000/health")[0] == 0  # refused
    assert http(node_b, "https://vllm-node-a/health")[0] == 200  # the proxy is reachable


def test_metrics_only_from_the_monitoring_cidr(gw: Any, node_a: Any, node_b: Any) -> None:
    # vllm_metrics_allowed_cidrs: 127.0.0.1 and vllm-node-b (the stand-in monitoring host), not the gateway.
    conf = node_a.file("/etc/nginx/conf.d/vllm.conf").content_string
    assert f"allow {node_b_address(node_a)}/32;" in conf
    for host, url in ((node_a, f"{LOCAL}/metrics"), (node_b, "https://vllm-node-a/metrics")):
        code, body = http(host, url)
        assert code == 200
        assert "vllm:num_requests_running" in body
    assert http(gw, "https://vllm-node-a/metrics")[0] == 403


def node_b_address(host: Any) -> str:
    return str(host.check_output("getent ahostsv4 vllm-node-b").split()[0])


@pytest.mark.parametrize("path", ["/metrics", "/health", "/v1/../metrics", "/v1/%2e%2e/metrics", "/v1//models"])
def test_gateway_forwards_only_the_api(path: str, gw: Any, node_b: Any) -> None:
    # From the gateway itself and from a client elsewhere; curl --path-as-is keeps the dot segments.
    for host, base in ((gw, LOCAL), (node_b, "https://vllm-gw")):
        out = host.run("curl -sk --path-as-is -m 10 -o /dev/null -w '%%{http_code}' %s", f"{base}{path}")
        assert out.stdout == "404", (host, path, out.stdout)
    assert http(node_b, "https://vllm-gw/v1/models", key=KEY)[0] == 200


def test_gateway_verifies_the_nodes_against_the_node_ca(gw: Any, node_a: Any) -> None:
    cfg = gw.file("/etc/haproxy/haproxy.cfg").content_string
    assert "verify none" not in cfg
    for name in ("vllm-node-a", "vllm-node-b"):
        assert f"{name}:443 weight 100 maxconn 4 ssl verify required ca-file /etc/haproxy/tls/node-ca.pem verifyhost {name}" in cfg
    ca = gw.file("/etc/haproxy/tls/node-ca.pem")
    assert ca.content_string == (PKI / "node-ca.crt").read_text()
    # The node's certificate chains to the CA and names the node; the CA's key stays on the controller.
    pem = node_a.file("/etc/nginx/vllm-tls/proxy.crt").content_string
    write_script(gw, "/tmp/node-a.crt", pem)
    assert gw.run("openssl verify -CAfile /etc/haproxy/tls/node-ca.pem /tmp/node-a.crt").rc == 0
    assert oct((PKI / "node-ca.key").stat().st_mode & 0o777) == "0o600"
    for host in (gw, node_a):
        assert host.run("grep -rl 'PRIVATE KEY' /etc --include=node-ca*").stdout == ""


def test_gateway_stats_only_from_the_stats_cidr(gw: Any, node_a: Any) -> None:
    assert http(gw, "http://127.0.0.1:8404/stats")[0] == 200
    assert http(node_a, "http://vllm-gw:8404/stats")[0] == 403


def test_gateway_checks_both_nodes(gw: Any) -> None:
    wait_for(lambda: backend_status(gw).get("node-a") == backend_status(gw).get("node-b") == "UP", 20,
             "both nodes UP")


def stats_column(gw: Any, server: str, column: str) -> int:
    """One number of the gateway's stats for a server of vllm_nodes (BACKEND: the whole backend)."""
    header, *lines = gw.check_output("curl -s 'http://127.0.0.1:8404/stats;csv'").splitlines()
    index = header.lstrip("# ").split(",").index(column)
    rows = [line.split(",") for line in lines if line.startswith(f"vllm_nodes,{server},")]
    return int(rows[0][index] or 0)


@pytest.fixture(scope="module")
def gateway_url(gw: Any) -> Any:
    """The gateway's HTTPS port on the controller, through an SSH forward to the gateway's
    127.0.0.1:443 (its certificate names 127.0.0.1)."""
    port = 18443
    with ssh_forward("vllm-gw", {port: 443}):
        yield f"https://127.0.0.1:{port}"


def loadtest(url: str, files: Path, name: str, concurrency: int, requests: int,
             *extra: str) -> tuple[int, dict[str, Any]]:
    """`colostack loadtest` from the controller, as an operator runs it; returns (exit code, JSON)."""
    run = subprocess.run(
        ["colostack", "loadtest", "--url", url, "--model", MODEL, "--api-key-file",
         str(files / "key"), "--ca-file", str(files / "gateway.pem"), "--mix", str(files / "mix.yml"),
         "--concurrency", str(concurrency), "--requests", str(requests), "--duration", "180s",
         "--slo-ttft-p95-ms", "60000", "--json", str(files / f"{name}.json"),
         "--html", str(REPO / ".artifacts" / f"loadtest-gateway-{name}.html"), *extra],
        capture_output=True, text=True, timeout=300, check=False)
    assert (files / f"{name}.json").exists(), run.stdout + run.stderr
    return run.returncode, json.loads((files / f"{name}.json").read_text())


def test_load_through_the_gateway_queues_at_twice_saturation_without_errors_then_recovers(
    gw: Any, gateway_url: str, tmp_path: Path,
) -> None:
    """Two STAND-IN nodes with max_num_seqs 4: the gateway gives each 4 requests at once (maxconn from
    vllm_max_num_seqs) and queues the rest. Figures come from the stand-in's latency model."""
    (REPO / ".artifacts").mkdir(exist_ok=True)
    (tmp_path / "key").write_text(KEY)
    (tmp_path / "gateway.pem").write_text(gw.file("/etc/haproxy/tls/gateway.pem").content_string)
    (tmp_path / "mix.yml").write_text(yaml.safe_dump({"shapes": [
        {"kind": "chat", "stream": True, "prompt_tokens": 8, "max_tokens": 5},
        {"kind": "completion", "stream": False, "prompt_tokens": 8, "max_tokens": 5}]}))
    wait_for(lambda: backend_status(gw).get("node-a") == backend_status(gw).get("node-b") == "UP", 20,
             "both nodes UP")
    assert "maxconn 4 " in gw.file("/etc/haproxy/haproxy.cfg").content_string

    code, at = loadtest(gateway_url, tmp_path, "saturation", 8, 40, "--max-error-rate", "0")
    summary = at["summary"]
    assert code == 0, summary
    assert summary["requests"] == 40 and summary["errors"] == 0
    assert all(summary["e2e_s"][p] for p in ("p50", "p95", "p99")) and summary["tokens_per_s"] > 0

    queued_before = stats_column(gw, "BACKEND", "qmax")
    code, over = loadtest(gateway_url, tmp_path, "twice", 16, 64, "--max-error-rate", "0")
    assert code == 0, over["summary"]
    assert over["summary"]["errors"] == 0  # queued, not refused
    assert stats_column(gw, "BACKEND", "qmax") > queued_before  # requests waited at the gateway
    assert max(stats_column(gw, n, "smax") for n in ("node-a", "node-b")) == 4  # never above maxconn

    code, after = loadtest(gateway_url, tmp_path, "recovery", 4, 20, "--max-error-rate", "0")
    assert code == 0 and after["summary"]["errors"] == 0
    assert stats_column(gw, "BACKEND", "qcur") == 0


FLOOD_SH = f"""post() {{
  tokens=$1; shift
  curl -sk -m 60 -H 'Authorization: Bearer {KEY}' -H 'Content-Type: application/json' \\
    -d '{{"model":"{MODEL}","prompt":"x","max_tokens":'$tokens'}}' "$@" https://127.0.0.1/v1/completions
}}
for i in $(seq 1 20); do
  post 70 -o /dev/null -D /tmp/flood-$i.head -w '%{{http_code}}\\n' >> /tmp/flood.codes &
done
wait
"""


def test_past_the_queue_bound_the_gateway_answers_429_with_retry_after(gw: Any) -> None:
    """20 seven-second requests at once: 8 in service (4 per node), 10 queued, 2 refused at once with
    429 and Retry-After; the queued ones are served, none times out."""
    wait_for(lambda: backend_status(gw).get("node-a") == backend_status(gw).get("node-b") == "UP", 20,
             "both nodes UP")
    gw.run_test("rm -f /tmp/flood.codes /tmp/flood-*.head")
    write_script(gw, "/root/flood.sh", FLOOD_SH)
    gw.check_output("sh /root/flood.sh")
    codes = sorted(gw.file("/tmp/flood.codes").content_string.split())
    assert codes == ["200"] * 18 + ["429"] * 2
    heads = [gw.file(f"/tmp/flood-{i}.head").content_string.lower() for i in range(1, 21)]
    refused = [h for h in heads if h.split()[1:2] == ["429"]]
    assert len(refused) == 2, heads
    assert all("retry-after: 2" in h for h in refused), refused


SLOW_SH = f"""curl -sk -m 120 -o /tmp/slow-$1.body -w '%{{http_code}}' -H 'Authorization: Bearer {KEY}' \\
  -H 'Content-Type: application/json' -d '{{"model":"{MODEL}","prompt":"slow","max_tokens":300}}' \\
  https://127.0.0.1/v1/completions > /tmp/slow-$1.code
date +%s.%N > /tmp/slow-$1.end
"""
LOAD_SH = f"""while [ ! -e /tmp/stop-load ]; do
  code=$(curl -sk -m 60 -o /tmp/load.body -w '%{{http_code}}' -H 'Authorization: Bearer {KEY}' \\
    -H 'Content-Type: application/json' -d '{{"model":"{MODEL}","prompt":"x","max_tokens":2}}' \\
    https://127.0.0.1/v1/completions)
  echo "$(date +%s.%N) $code $(grep -o 'standin-vllm-node-[ab]' /tmp/load.body)" >> /tmp/load.log
  sleep 0.2
done
"""


def write_script(host: Any, path: str, text: str) -> None:
    # Written over the test connection, so the key stays out of systemd-run's journal lines.
    host.run_test(f"umask 077 && cat > {path} <<'EOF'\n{text}EOF")


def test_drain_moves_traffic_and_waits_for_the_in_flight_request(gw: Any, node_a: Any) -> None:
    wait_for(lambda: set(backend_status(gw).values()) >= {"UP"} and backend_status(gw)["node-a"] == "UP",
             20, "node-a UP")
    gw.run_test("rm -f /tmp/slow-* /tmp/load.* /tmp/stop-load")
    write_script(gw, "/root/slow.sh", SLOW_SH)
    write_script(gw, "/root/load.sh", LOAD_SH)
    # Two 30 s completions: leastconn puts one on each node, once the first is open at its node
    # (started together under load, both could land on the same idle-looking node).
    for i in (1, 2):
        gw.run_test(f"systemd-run --unit vllm-test-slow-{i} --collect /bin/sh /root/slow.sh {i}")
        wait_for(lambda n=i: in_flight(gw) >= n, 20, f"slow request {i} open at a node")
    gw.run_test("systemd-run --unit vllm-test-load --collect /bin/sh /root/load.sh")
    drain = playbook("drain.yml", "vllm-node-a")
    assert drain.returncode == 0, drain.stdout[-3000:]

    # Right after drain: the gateway sends everything to node B, with no client error.
    after = [complete(gw, LOCAL) for _ in range(6)]
    assert [(code, served_by(r)) for code, r in after] == [(200, "vllm-node-b")] * 6
    gw.run_test("touch /tmp/stop-load")
    wait_for(lambda: gw.run("systemctl is-active vllm-test-load").rc != 0, 30, "load loop to stop")
    wait_for(lambda: gw.file("/tmp/slow-1.end").exists and gw.file("/tmp/slow-2.end").exists, 60,
             "slow requests to finish")

    load = [line.split() for line in gw.file("/tmp/load.log").content_string.splitlines()]
    assert len(load) >= 5
    assert {row[1] for row in load} == {"200"}, load  # no client saw an error during the drain

    slow = {}
    for i in (1, 2):
        body = gw.file(f"/tmp/slow-{i}.body").content_string
        assert gw.file(f"/tmp/slow-{i}.code").content_string == "200"
        slow[served_by(json.loads(body))] = float(gw.file(f"/tmp/slow-{i}.end").content_string)
    assert set(slow) == {"vllm-node-a", "vllm-node-b"}

    # Order on node A: drain flag set, then the in-flight request finished, then vLLM stopped.
    flagged = int(node_a.check_output("stat -c %Y /etc/nginx/vllm-drained"))
    # vLLM's own drain (--shutdown-timeout): the process exits once its running request is done.
    stopped = node_a.check_output("systemctl show -p InactiveEnterTimestamp --timestamp=unix --value vllm")
    assert flagged < slow["vllm-node-a"]
    assert int(stopped.lstrip("@")) >= int(slow["vllm-node-a"])
    assert not node_a.service("vllm").is_running
    assert http(node_a, f"{LOCAL}/health")[0] == 503


def test_undrain_returns_the_node(gw: Any, node_a: Any) -> None:
    undrain = playbook("undrain.yml", "vllm-node-a")
    assert undrain.returncode == 0, undrain.stdout[-3000:]
    assert node_a.service("vllm").is_running
    assert not node_a.file("/etc/nginx/vllm-drained").exists
    wait_for(lambda: backend_status(gw)["node-a"] == "UP", 20, "node-a UP again")
    seen = {served_by(complete(gw, LOCAL)[1]) for _ in range(6)}
    assert seen == {"vllm-node-a", "vllm-node-b"}


def test_gateway_refuses_a_node_with_a_wrong_certificate(gw: Any, node_a: Any, node_b: Any) -> None:
    wait_for(lambda: backend_status(gw).get("node-b") == "UP", 20, "node-b UP")
    # node-b now presents a self-signed certificate with the right name: not signed by the node CA.
    node_b.run_test(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=vllm-node-b"
        " -addext subjectAltName=DNS:vllm-node-b -keyout /etc/nginx/vllm-tls/proxy.key"
        " -out /etc/nginx/vllm-tls/proxy.crt && systemctl reload nginx")
    assert http(node_b, f"{LOCAL}/v1/models", key=KEY)[0] == 200  # the node itself still serves
    wait_for(lambda: backend_status(gw).get("node-b") == "DOWN", 20, "node-b DOWN (certificate refused)")
    served = [complete(gw, LOCAL) for _ in range(6)]
    assert [(code, served_by(r)) for code, r in served] == [(200, "vllm-node-a")] * 6
    assert check_status(gw, "node-b").startswith("L6")  # refused at the TLS layer (handshake)

    # The next converge finds a certificate the CA did not sign, reissues it, and the gateway takes node-b back.
    run = playbook("converge.yml", "vllm-node-b", "--limit", "vllm-node-b", verbosity=0, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:]
    write_script(gw, "/tmp/node-b.crt", node_b.file("/etc/nginx/vllm-tls/proxy.crt").content_string)
    assert gw.run("openssl verify -CAfile /etc/haproxy/tls/node-ca.pem /tmp/node-b.crt").rc == 0
    wait_for(lambda: backend_status(gw).get("node-b") == "UP", 20, "node-b UP with a CA-signed certificate")
    assert {served_by(complete(gw, LOCAL)[1]) for _ in range(6)} == {"vllm-node-a", "vllm-node-b"}


def cert_run(tmp_path: Path, name: str, check: bool = False, **variables: Any) -> subprocess.CompletedProcess[str]:
    values = {"tls_certificate_path": f"/etc/colostack-test-tls/{name}.crt",
              "tls_certificate_key_path": f"/etc/colostack-test-tls/{name}.key"} | variables
    extra = tmp_path / f"{name}.json"
    extra.write_text(json.dumps(values))
    return playbook("cert.yml", "vllm-node-b", "-e", f"@{extra}", *(["--check"] if check else []), verbosity=0)


def serial_and_end(host: Any, name: str) -> tuple[str, str]:
    out = host.check_output(f"openssl x509 -noout -serial -enddate -in /etc/colostack-test-tls/{name}.crt")
    serial, end = out.splitlines()
    return serial, end


def changed(run: subprocess.CompletedProcess[str]) -> int:
    assert run.returncode == 0, run.stdout[-3000:]
    recap = [line for line in run.stdout.splitlines() if line.startswith("vllm-node-b ")][-1]
    return int(recap.split("changed=")[1].split()[0])


CA_VARS = {"tls_certificate_ca_cert_src": str(PKI / "node-ca.crt"), "tls_certificate_ca_key_src": str(PKI / "node-ca.key")}


@pytest.mark.parametrize("mode", ["selfsigned", "ca"])
def test_certificate_renewed_before_expiry_and_kept_otherwise(mode: str, node_b: Any, tmp_path: Path) -> None:
    name = f"renew-{mode}"
    ca = CA_VARS if mode == "ca" else {}
    node_b.run_test(f"rm -f /etc/colostack-test-tls/{name}.*")
    # A certificate that expires tomorrow (renew_days 0: this run keeps it).
    assert changed(cert_run(tmp_path, name, tls_certificate_valid_days=1, tls_certificate_renew_days=0, **ca)) > 0
    short = serial_and_end(node_b, name)
    key = node_b.file(f"/etc/colostack-test-tls/{name}.key").md5sum
    # The usual settings (90 days, renew within 7): the next run reissues it, with the same key.
    usual = {"tls_certificate_valid_days": 90, "tls_certificate_renew_days": 7} | ca
    run = cert_run(tmp_path, name, **usual)
    assert changed(run) > 0
    assert "within tls_certificate_renew_days (7): issuing a new one" in " ".join(run.stdout.split())
    renewed = serial_and_end(node_b, name)
    assert renewed[0] != short[0] and renewed[1] != short[1]
    assert node_b.file(f"/etc/colostack-test-tls/{name}.key").md5sum == key
    # A fresh certificate: the next run changes nothing.
    assert changed(cert_run(tmp_path, name, **usual)) == 0
    assert serial_and_end(node_b, name) == renewed
    if mode == "ca":
        write_script(node_b, "/tmp/node-ca.crt", (PKI / "node-ca.crt").read_text())
        assert node_b.run(f"openssl verify -CAfile /tmp/node-ca.crt /etc/colostack-test-tls/{name}.crt").rc == 0


@pytest.mark.parametrize("mode", ["selfsigned", "ca"])
def test_check_mode_on_a_host_without_a_certificate(mode: str, node_b: Any, tmp_path: Path) -> None:
    name = f"check-{mode}"
    node_b.run_test(f"rm -f /etc/colostack-test-tls/{name}.*")
    run = cert_run(tmp_path, name, check=True, **(CA_VARS if mode == "ca" else {}))
    assert changed(run) > 0  # the key (and so the certificate) would be made
    assert "failed=0" in run.stdout
    assert not node_b.file(f"/etc/colostack-test-tls/{name}.key").exists
    assert not node_b.file(f"/etc/colostack-test-tls/{name}.crt").exists


def test_unverified_servers_need_the_opt_out_and_warn(tmp_path: Path) -> None:
    backends = [{"name": "node-a", "address": "vllm-node-a", "verify": "none"}]
    extra = tmp_path / "gw.json"
    extra.write_text(json.dumps({"inference_gateway_backends": backends}))
    refused = playbook("apply_gateway.yml", "vllm-gw", "-e", f"@{extra}", "--check", verbosity=0)
    out = " ".join(refused.stdout.split())
    assert refused.returncode == 2
    assert "inference_gateway_backends node-a set verify: none" in out
    assert "changed=0" in out
    extra.write_text(json.dumps({"inference_gateway_backends": backends, "inference_gateway_allow_unverified_backends": True}))
    allowed = playbook("apply_gateway.yml", "vllm-gw", "-e", f"@{extra}", "--check", "--diff", verbosity=0)
    out = " ".join(allowed.stdout.split())
    assert allowed.returncode == 0, allowed.stdout[-3000:]
    assert "WARNING: inference_gateway_allow_unverified_backends is set and node-a use verify: none" in out
    assert "verify none" in allowed.stdout  # the diff of haproxy.cfg that check mode did not write


@pytest.mark.parametrize(
    ("overrides", "drop", "message"),
    [
        ({"vllm_gpu_memory_utilization": 1.5}, None, "vllm_gpu_memory_utilization must be in (0, 1], got 1.5"),
        ({"vllm_gpu_count": 8, "vllm_tensor_parallel_size": 3}, None,
         "vllm_tensor_parallel_size=3 must divide the host's GPU count (8"),
        ({}, "vllm_model", "missing required arguments: vllm_model"),
        ({"vllm_metrics_allowed_cidrs": ["10.0.0.0/8", "0.0.0.0/0"]}, None,
         "vllm_metrics_allowed_cidrs[1]: must be a bounded network, not 0.0.0.0/0"),
        ({"vllm_metrics_allowed_cidrs": ["0:0::0/0"]}, None,
         ("vllm_metrics_allowed_cidrs[0]: must be a bounded network, not 0.0.0.0/0, ::/0 or all of IPv4 as "
         "::ffff:0:0/96 (got '0:0::0/0')")),
        ({"vllm_metrics_allowed_cidrs": ["10.20.0.41/24"]}, None,
         ("vllm_metrics_allowed_cidrs[0]: must be a network in CIDR form with no host bits set, e.g. 10.20.0.0/24 "
         "(got '10.20.0.41/24')")),
    ],
    ids=["gpu-memory-utilization-1.5", "tensor-parallel-3-on-8-gpus", "missing-model", "metrics-any-ipv4",
         "metrics-any-ipv6-spelling", "metrics-host-bits"],
)
def test_bad_input_fails_before_any_change(overrides: dict[str, Any], drop: str | None, message: str,
                                           tmp_path: Path) -> None:
    variables = {k: v for k, v in NODE_VARS.items() if k != drop} | overrides
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))
    result = playbook("apply_role.yml", "vllm-node-b", "-e", f"@{extra}", verbosity=0)
    out = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2
    assert message in out
    assert "Install nginx and the packages" not in out  # stopped before touching the host
    assert "changed=0" in out


def test_key_never_in_the_journal(gw: Any, node_a: Any, node_b: Any) -> None:
    for host in (node_a, node_b):
        journal = host.check_output("journalctl --no-pager -o cat")
        assert "STAND-IN vllm serve: non-default args" in journal  # the server's own log is there
        assert KEY not in journal
    assert KEY not in gw.check_output("journalctl --no-pager -o cat")


def test_key_never_in_the_vvv_play_output() -> None:
    log = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "ansible-vvv.log"
    text = log.read_text()
    assert "Write the vLLM environment file with the API key" in text
    assert "task path:" in text  # written at -vvv
    assert "Drain the node" in text  # the drain run was logged too
    assert KEY not in text
