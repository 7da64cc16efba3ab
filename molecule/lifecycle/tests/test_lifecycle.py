"""The operator's lifecycle on one small site, in order (the tests share the fleet; see molecule.yml).

converge was the first site.yml. Here: the site serves; the driver changes in the inventory and the
rollout moves it with a fault in its second batch while traffic flows; site.yml again changes
nothing and moves no driver; a bad variable stops site.yml before any host changes. The NVIDIA
packages, vLLM and the GPU recordings are STAND-INs (molecule.yml says which).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ssh_host

REPO = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
INVENTORY = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
NODE_VARS = yaml.safe_load((REPO / "molecule/vllm/vars/nodes.yml").read_text())
KEY, MODEL = NODE_VARS["vllm_api_key"], NODE_VARS["vllm_served_model_name"]
GPUS = ("lc-gpu1", "lc-gpu2", "lc-gpu3")
HOSTS = ("lc-core", "lc-gw", *GPUS)
A, B = "550.163.01", "570.172.08"
DRIVER_PACKAGES = "nvidia-kernel-open-dkms nvidia-fabricmanager"
STATE = "/var/lib/colostack/rollout-state.json"


def own_inventory() -> Path:
    """The scenario's group_vars as this run's own copy, so the tests edit it like an operator."""
    group_vars = INVENTORY / "group_vars"
    if group_vars.is_symlink():
        source = group_vars.resolve()
        group_vars.unlink()
        shutil.copytree(source, group_vars)  # links into inventories/colo become plain files
    return group_vars


def set_driver(version: str) -> None:
    path = own_inventory() / "gpu_nodes" / "zz-standins.yml"
    text = path.read_text()
    path.write_text(re.sub(r'(?m)^nvidia_driver_version: .*$', f'nvidia_driver_version: "{version}"', text))


def playbook(path: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ansible-playbook", path, "-i", str(INVENTORY), *extra], cwd=REPO,
                          capture_output=True, text=True, timeout=1800, check=False)


def driver(name: str) -> set[str]:
    out = ssh_host(name).check_output(f"dpkg-query -W -f='${{Version}}\\n' {DRIVER_PACKAGES}")
    return set(out.split())


def complete(gw: Any) -> int:
    out = gw.run(
        "curl -sk -m 30 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer " + KEY + "' "
        "-H 'Content-Type: application/json' "
        f"-d '{{\"model\":\"{MODEL}\",\"prompt\":\"hi\",\"max_tokens\":2}}' https://127.0.0.1/v1/completions")
    return int(out.stdout or 0)


def backend_status(gw: Any) -> dict[str, str]:
    csv = gw.check_output("curl -s 'http://127.0.0.1:8404/stats;csv'")
    return {row[1]: row[17] for row in (line.split(",") for line in csv.splitlines())
            if row[0] == "vllm_nodes" and row[1] in GPUS}


def recap(out: str) -> dict[str, dict[str, int]]:
    return {m[0]: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m[1])}
            for m in re.findall(r"^(\S+)\s+: (ok=.*)$", out, re.MULTILINE)}


def snapshot(name: str) -> str:
    """Installed packages and every file's checksum under /etc and /opt: what a change would touch."""
    return ssh_host(name).check_output(
        "dpkg-query -W -f='${Package} ${Version}\\n'; "
        "find /etc /opt -xdev -type f -print0 | sort -z | xargs -0 md5sum")


LOAD_SH = (
    "while [ ! -e /tmp/stop-load ]; do "
    "code=$(curl -sk -m 30 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer " + KEY + "' "
    "-H 'Content-Type: application/json' "
    f"-d '{{\"model\":\"{MODEL}\",\"prompt\":\"x\",\"max_tokens\":2}}' https://127.0.0.1/v1/completions); "
    "echo $code >> /tmp/load.log; sleep 0.2; done\n"
)


def test_site_serves_a_completion_through_the_gateway_and_knn_through_pgbouncer():
    gw, core = ssh_host("lc-gw"), ssh_host("lc-core")
    assert complete(gw) == 200
    assert set(backend_status(gw).values()) == {"UP"}
    password = yaml.safe_load((REPO / "molecule/lifecycle/inventory/group_vars/all/vault.yml").read_text())[
        "vault_postgresql_app_password"]
    dsn = "host=127.0.0.1 port=6432 dbname=colostack user=colostack_app sslmode=require"
    vector = "(SELECT array_fill(0.5::real, ARRAY[1536])::vector)"
    knn = core.run(
        f"PGPASSWORD='{password}' psql '{dsn}' -XAtc \"INSERT INTO document_embeddings (content, embedding) "
        f"VALUES ('lifecycle', {vector}); SELECT content FROM document_embeddings "
        f"ORDER BY embedding <-> {vector} LIMIT 1\"")
    assert knn.rc == 0, knn.stderr
    assert knn.stdout.strip().splitlines()[-1] == "lifecycle"
    for name in GPUS:
        assert driver(name) == {f"{A}-1"}
        assert '"brought_up": true' in ssh_host(name).file("/etc/ansible/facts.d/colostack.fact").content_string


def test_driver_changed_in_the_inventory_rolls_out_in_batches_with_the_faulty_node_rolled_back_and_traffic_flowing():
    gw = ssh_host("lc-gw")
    ssh_host("lc-gpu3").check_output(
        "cp /var/lib/colostack/replay/bandwidth-60pct.json /var/lib/colostack/replay/after.json")
    set_driver(B)
    gw.run_test("rm -f /tmp/load.log /tmp/stop-load")
    gw.run_test(f"cat > /root/load.sh <<'EOF'\n{LOAD_SH}EOF")
    gw.run_test("systemd-run --unit lifecycle-load --collect /bin/sh /root/load.sh")
    try:
        run = playbook("playbooks/rolling_driver_update.yml")
    finally:
        gw.run_test("touch /tmp/stop-load")
        for _ in range(60):
            if gw.run("systemctl is-active lifecycle-load").rc != 0:
                break
            time.sleep(1)
    out = run.stdout + run.stderr
    assert run.returncode != 0, out[-3000:]  # halted: the faulty node failed
    assert "ROLLOUT HALTED" in out
    assert driver("lc-gpu1") == {f"{B}-1"}  # the canary
    assert driver("lc-gpu2") == {f"{B}-1"}  # the faulty node's batch-mate
    assert driver("lc-gpu3") == {f"{A}-1"}  # rolled back
    assert '"state": "rolled_back"' in ssh_host("lc-gpu3").file(STATE).content_string
    assert ssh_host("lc-gpu3").file("/etc/nginx/vllm-drained").exists  # left drained: still unhealthy
    codes = gw.file("/tmp/load.log").content_string.split()
    assert len(codes) > 50, "the load loop hardly ran"
    assert [c for c in codes if c != "200"] == [], "requests failed during the rollout"
    status = backend_status(gw)
    assert (status["lc-gpu1"], status["lc-gpu2"]) == ("UP", "UP")
    assert status["lc-gpu3"] != "UP"


def test_site_yml_after_the_rollout_moves_no_driver_changes_nothing_and_names_the_held_host():
    run = playbook("site.yml")
    out = run.stdout + run.stderr
    stats = recap(out)
    assert set(stats) >= set(HOSTS), out[-3000:]
    assert {name: s["changed"] for name, s in stats.items()} == dict.fromkeys(stats, 0), out[-6000:]
    # lc-gpu3 serves (drained) on the driver it was rolled back to; site.yml holds it and says how to move it.
    assert run.returncode != 0
    assert "lc-gpu3 serves on driver 550.163.01 and the inventory wants 570.172.08" in " ".join(out.split())
    assert "ansible-playbook playbooks/rolling_driver_update.yml -i" in " ".join(out.split())
    assert [n for n, s in stats.items() if s["failed"]] == ["lc-gpu3"]
    assert driver("lc-gpu1") == driver("lc-gpu2") == {f"{B}-1"}
    assert driver("lc-gpu3") == {f"{A}-1"}
    assert ssh_host("lc-gpu3").file("/etc/nginx/vllm-drained").exists  # site.yml did not undrain it
    assert ssh_host("lc-gpu3").service("vllm").is_running is False


@pytest.mark.parametrize(("host", "variable", "value", "message"), [
    ("lc-gpu1", "vllm_gpu_memory_utilization", 1.5, "vllm_gpu_memory_utilization must be in (0, 1], got 1.5"),
])
def test_a_bad_variable_stops_site_yml_in_the_preflight_and_no_host_changes(host, variable, value, message):
    host_vars = INVENTORY / "host_vars"
    host_vars.mkdir(exist_ok=True)
    (host_vars / f"{host}.yml").write_text(yaml.safe_dump({variable: value}))
    before = {name: snapshot(name) for name in HOSTS}
    try:
        run = playbook("site.yml")
    finally:
        (host_vars / f"{host}.yml").unlink()
    out = " ".join((run.stdout + run.stderr).split())
    assert run.returncode != 0
    assert f"PREFLIGHT FAILED, no host changed: vllm: {message}" in out
    assert "PLAY [Provision" not in out
    assert {name: snapshot(name) for name in HOSTS} == before
