"""Two models on one node (vllm_instances), routed by the gateway and billed by their units.

cost-node runs the STAND-IN vLLM twice: vllm.service serves "chat" on GPU 0, the instance
vllm-embed.service serves "embed" on GPU 1 (the node has no GPU; the stand-in ignores
CUDA_VISIBLE_DEVICES). The gateway on cost-ops routes by the request body's "model". Clients are
the official openai client on the controller, through an SSH forward (test_cost_node.py runs the
chargeback that bills both).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from conftest import ssh_forward, ssh_host

REPO = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
KEY: str = yaml.safe_load((REPO / "molecule/vllm/vars/nodes.yml").read_text())["vllm_api_key"]
GATEWAY = 18444


@pytest.fixture(scope="module")
def ops() -> Any:
    return ssh_host("cost-ops")


@pytest.fixture(scope="module")
def node() -> Any:
    return ssh_host("cost-node")


@pytest.fixture(scope="module")
def forwards(ops: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The gateway's 443 on the controller; returns a directory holding its certificate."""
    files = tmp_path_factory.mktemp("two-models")
    (files / "gateway.pem").write_text(ops.file("/etc/haproxy/tls/gateway.pem").content_string)
    with ssh_forward("cost-ops", {GATEWAY: 443}):
        yield files


def client(files: Path) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"https://127.0.0.1:{GATEWAY}/v1", api_key=KEY, max_retries=0,
                         http_client=openai.DefaultHttpxClient(verify=str(files / "gateway.pem")))


def test_each_server_has_its_unit_port_and_gpus(node: Any) -> None:
    for unit, port, proxy, gpus in (("vllm", 8000, 443, "0"), ("vllm-embed", 8001, 8444, "1")):
        assert node.service(unit).is_running
        assert node.socket(f"tcp://127.0.0.1:{port}").is_listening
        assert node.socket(f"tcp://0.0.0.0:{proxy}").is_listening
        env = node.check_output(f"systemctl show -p Environment --value {unit}")
        assert f"CUDA_VISIBLE_DEVICES={gpus}" in env.split()
    assert "--max-num-seqs 2" in node.check_output("systemctl show -p ExecStart --value vllm-embed")


def test_the_gateway_routes_each_model_to_its_server(ops: Any, forwards: Path) -> None:
    api = client(forwards)
    served = {model: api.completions.create(model=model, prompt="route me", max_tokens=2).model
              for model in ("chat", "embed")}
    assert served == {"chat": "chat", "embed": "embed"}
    chunks = list(api.chat.completions.create(model="embed", messages=[{"role": "user", "content": "hi"}],
                                              max_tokens=3, stream=True))
    assert chunks and {c.model for c in chunks} == {"embed"}
    # A model no server serves goes to the default backend, whose vLLM answers 404.
    with pytest.raises(openai.NotFoundError):
        api.completions.create(model="nowhere", prompt="x", max_tokens=1)
    stats = ops.check_output("curl -s 'http://127.0.0.1:8404/stats;csv'").splitlines()
    header = stats[0].lstrip("# ").split(",")
    rows = {(r[0], r[1]): dict(zip(header, r, strict=False)) for r in (line.split(",") for line in stats[1:])}
    embed = next(row for (px, sv), row in rows.items() if sv == "cost-node-embed")
    assert int(embed["stot"]) >= 2 and embed["status"] == "UP"
    assert embed["slim"] == "2"  # maxconn from the instance's max_num_seqs
    assert rows[("vllm_nodes", "cost-node")]["slim"] == "256"  # no vllm_max_num_seqs: the gateway default


def test_an_instance_taken_out_of_the_inventory_is_stopped_and_its_unit_removed(node: Any) -> None:
    """A unit left by an instance no longer in vllm_instances (vllm-old) goes on the next role run;
    the instances still listed keep running."""
    node.run_expect([0], "printf '[Service]\\nExecStart=/bin/sleep infinity\\n' > /etc/systemd/system/vllm-old.service"
                         " && systemctl daemon-reload && systemctl start vllm-old")
    embed_pid = node.check_output("systemctl show -p MainPID --value vllm-embed")
    extra = {"target": "cost-node", "vllm_gpu_count": 2, "vllm_gpus": [0], "vllm_served_model_name": "chat"}
    run = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(REPO / "molecule/vllm/apply_role.yml"),
         "-e", f"@{REPO / 'molecule/vllm/vars/nodes.yml'}", "-e", json.dumps(extra)],
        capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert not node.file("/etc/systemd/system/vllm-old.service").exists
    assert node.run("systemctl is-active vllm-old").stdout.strip() != "active"
    assert node.check_output("systemctl show -p MainPID --value vllm-embed") == embed_pid
