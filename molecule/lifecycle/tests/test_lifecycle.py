"""The operator's lifecycle on one small site, in order (the tests share the fleet; see molecule.yml).

converge was the first site.yml. Here: the site serves; the driver changes in the inventory and the
control node's scheduled rollout unit moves it (after site.yml deployed the edited inventory there)
while traffic flows, and a node of its second batch that validates but fails the end-to-end check
before undrain is rolled back and left drained; site.yml again changes nothing and moves no
driver; a firmware rollout through the Redfish TEST EMULATOR drains, flashes, validates and undrains
a node; a bad variable stops site.yml before any host changes. The NVIDIA packages, vLLM, the BMC
and the GPU recordings are STAND-INs (molecule.yml says which).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
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
    """The operator's edit: the desired driver in the inventory (zz-standins.yml is read last)."""
    path = own_inventory() / "gpu_nodes" / "zz-standins.yml"
    text = re.sub(r'(?m)^nvidia_driver_version: .*\n', "", path.read_text())
    path.write_text(f'{text}nvidia_driver_version: "{version}"\n')


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


def backend_status() -> dict[str, str]:
    """HAProxy's view of the nodes, read from lc-core: the stats page admits the monitoring network only."""
    csv = ssh_host("lc-core").check_output("curl -sf 'http://lc-gw:8404/stats;csv'")
    return {row[1]: row[17] for row in (line.split(",") for line in csv.splitlines())
            if row[0] == "vllm_nodes" and row[1] in GPUS}


def changed_tasks(out: str) -> list[str]:
    """'host: task' for every change a playbook run reported."""
    found, task = [], ""
    for line in out.splitlines():
        if line.startswith("TASK ["):
            task = line[6:line.rfind("]")]
        elif m := re.match(r"changed: \[([^\]]+)\]", line):
            found.append(f"{m[1]}: {task}")
    return found


def recap(out: str) -> dict[str, dict[str, int]]:
    return {m[0]: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m[1])}
            for m in re.findall(r"^(\S+)\s+: (ok=.*)$", out, re.MULTILINE)}


def snapshot(name: str) -> str:
    """Installed packages, every file's checksum under /etc, and every file's size and mtime under
    /opt (its venvs hold thousands of files; a role writing one changes its mtime)."""
    return ssh_host(name).check_output(
        "dpkg-query -W -f='${Package} ${Version}\\n'; "
        "find /etc -xdev -type f -print0 | sort -z | xargs -0 md5sum; "
        "find /opt -xdev -type f -printf '%p %s %m %T@\\n' | sort")


def run_scheduled_rollout(name: str) -> tuple[int, str]:
    """Start the control node's rollout unit as its timer would, wait, return its exit code and log."""
    core = ssh_host("lc-core")
    # STAND-IN for the operator's deploy key: the key the scenario's hosts already trust.
    key = (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "ssh/id_ed25519").read_text()
    core.run_test(f"install -d -o colostack -m 0700 /var/lib/colostack/.ssh && "
                  f"printf '%s' '{key}' > /var/lib/colostack/.ssh/id_ed25519 && "
                  f"chown colostack /var/lib/colostack/.ssh/id_ed25519 && chmod 0600 /var/lib/colostack/.ssh/id_ed25519")
    unit = f"colostack-rollout-{name}.service"
    core.run_test(f"systemctl reset-failed {unit} || true; systemctl start {unit}")
    for _ in range(1500):
        if core.run(f"systemctl is-active {unit}").stdout.strip() not in ("active", "activating"):
            break
        time.sleep(1)
    status = int(core.check_output(f"systemctl show -p ExecMainStatus --value {unit}"))
    log = core.check_output(f"journalctl -u {unit} --no-pager -o cat")
    # For the record: what the operator sees in the journal (the scenario's own log keeps no output).
    (REPO / ".artifacts").mkdir(exist_ok=True)
    (REPO / ".artifacts" / f"lifecycle-rollout-{name}.log").write_text(log)
    return status, log


LOAD_SH = (
    "while [ ! -e /tmp/stop-load ]; do "
    "code=$(curl -sk -m 30 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer " + KEY + "' "
    "-H 'Content-Type: application/json' "
    f"-d '{{\"model\":\"{MODEL}\",\"prompt\":\"x\",\"max_tokens\":2}}' https://127.0.0.1/v1/completions); "
    "echo $code >> /tmp/load.log; sleep 1; done\n"
)


def test_site_serves_a_completion_through_the_gateway_and_knn_through_pgbouncer():
    gw, core = ssh_host("lc-gw"), ssh_host("lc-core")
    assert complete(gw) == 200
    assert set(backend_status().values()) == {"UP"}
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


def test_driver_changed_in_the_inventory_rolls_out_from_the_control_node_in_batches_and_a_node_failing_the_end_to_end_check_stays_drained():
    gw = ssh_host("lc-gw")
    # lc-gpu3 validates but its model fails real requests: the STAND-IN vLLM answers 500 to the
    # end-to-end check's prompt (its /health stays 200, and the gateway's load never sends that prompt).
    ssh_host("lc-gpu3").check_output(
        "mkdir -p /etc/vllm-standin && echo 'colostack undrain check' > /etc/vllm-standin/fail-prompts")
    set_driver(B)
    gw.run_test("rm -f /tmp/load.log /tmp/stop-load")
    gw.run_test(f"cat > /root/load.sh <<'EOF'\n{LOAD_SH}EOF")
    gw.run_test("systemd-run --unit lifecycle-load --collect /bin/sh /root/load.sh")
    try:
        deploy = playbook("site.yml", "--limit", "control")  # the operator's step after editing the inventory
        assert deploy.returncode == 0, (deploy.stdout + deploy.stderr)[-3000:]
        status, log = run_scheduled_rollout("driver")
    finally:
        gw.run_test("touch /tmp/stop-load")
        for _ in range(60):
            if gw.run("systemctl is-active lifecycle-load").rc != 0:
                break
            time.sleep(1)
    stdout = ssh_host("lc-core").check_output("cat /var/lib/colostack/rollouts/driver/artifacts/*/stdout")
    assert status == 1, log[-3000:]  # colostack rollout: 1 = halted (the faulty node failed)
    assert "rollout halted: playbooks/rolling_driver_update.yml on inventory" in log, log[-3000:]
    assert "ROLLOUT HALTED" in stdout
    assert "validated but failed the end-to-end check, left drained" in " ".join(stdout.split())
    assert driver("lc-gpu1") == {f"{B}-1"}, stdout[-5000:]  # the canary
    assert driver("lc-gpu2") == {f"{B}-1"}  # the faulty node's batch-mate
    assert driver("lc-gpu3") == {f"{A}-1"}  # rolled back
    # serial [1, 2] from the rollout's extra_vars: the canary alone, then lc-gpu2 and lc-gpu3 together.
    history = {n: json.loads(ssh_host(n).file(STATE).content_string)["history"] for n in GPUS}
    def at(name: str, event: str) -> str:
        return [e["time"] for e in history[name] if e["event"] == event][-1]
    assert at("lc-gpu1", "undrain") < min(at("lc-gpu2", "drain"), at("lc-gpu3", "drain"))
    assert max(at("lc-gpu2", "drain"), at("lc-gpu3", "drain")) < min(
        at("lc-gpu2", "undrain"), at("lc-gpu3", "left_drained"))
    assert '"state": "rolled_back"' in ssh_host("lc-gpu3").file(STATE).content_string
    assert ssh_host("lc-gpu3").file("/etc/nginx/vllm-drained").exists  # left drained: still failing
    assert ssh_host("lc-gpu3").service("vllm").is_running is False
    codes = gw.file("/tmp/load.log").content_string.split()
    assert len(codes) > 50, "the load loop hardly ran"
    assert [c for c in codes if c != "200"] == [], "requests failed during the rollout"
    backends = backend_status()
    assert (backends["lc-gpu1"], backends["lc-gpu2"]) == ("UP", "UP")
    assert backends["lc-gpu3"] != "UP"



def test_the_canary_ran_the_dcgm_diagnostics_after_the_change_only():
    """rolling_update_dcgm_diag_level 2 adds `--dcgm-diag 2` (STAND-IN dcgmi) to the validation after
    the change; the baseline before it runs none."""
    gpu = ssh_host("lc-gpu1")
    checks = {name: [r for r in json.loads(gpu.file(f"/var/lib/colostack/{name}.json").content_string)["results"]
                     if r["check"].startswith("dcgm_")]
              for name in ("baseline", "after")}
    assert checks["baseline"] == []
    assert len(checks["after"]) == 25 and {r["status"] for r in checks["after"]} == {"pass"}
    assert "DCGM level 2 GPU Memory: Pass" in {r["reason"] for r in checks["after"]}

def test_site_yml_after_the_rollout_moves_no_driver_changes_nothing_and_names_the_held_host():
    run = playbook("site.yml")
    out = run.stdout + run.stderr
    stats = recap(out)
    assert set(stats) >= set(HOSTS), out[-3000:]
    assert {name: s["changed"] for name, s in stats.items()} == dict.fromkeys(stats, 0), changed_tasks(out)
    # lc-gpu3 serves (drained) on the driver it was rolled back to; site.yml holds it and says how to move it.
    assert run.returncode != 0
    assert "lc-gpu3 serves on driver 550.163.01 and the inventory wants 570.172.08" in " ".join(out.split())
    assert "ansible-playbook playbooks/rolling_driver_update.yml -i" in " ".join(out.split())
    assert [n for n, s in stats.items() if s["failed"]] == ["lc-gpu3"]
    assert driver("lc-gpu1") == driver("lc-gpu2") == {f"{B}-1"}
    assert driver("lc-gpu3") == {f"{A}-1"}
    assert ssh_host("lc-gpu3").file("/etc/nginx/vllm-drained").exists  # site.yml did not undrain it
    assert ssh_host("lc-gpu3").service("vllm").is_running is False


GPU_FIRMWARE = {"HGX_FW_GPU_0": "96.00.AF.00.01", "HGX_FW_BMC_0": "24.10-1"}


@pytest.fixture
def bmc(tmp_path: Path) -> Iterator[str]:
    """The Redfish TEST EMULATOR (tests/fixtures/redfish_emulator) as lc-gpu1's BMC, on the controller."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    proc = subprocess.Popen([sys.executable, str(REPO / "tests/fixtures/redfish_emulator/emulator.py"),
                             "--port", "0", "--cert", str(tmp_path / "cert.pem"),
                             "--key", str(tmp_path / "key.pem")], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline().strip().removeprefix("port="))
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_firmware_rollout_drains_flashes_validates_from_path_and_undrains(bmc: str, tmp_path: Path):
    (tmp_path / "gpu.json").write_text(json.dumps(GPU_FIRMWARE))
    host_vars = INVENTORY / "host_vars"
    host_vars.mkdir(exist_ok=True)
    (host_vars / "lc-gpu1.yml").write_text(yaml.safe_dump({
        # STAND-INS: the emulated BMC and its certificate, short polls; validation stays on, by replay.
        "firmware_rollout_bmc_uri": bmc,
        "firmware_rollout_bmc_ca_path": str(tmp_path / "cert.pem"),
        "firmware_rollout_poll_delay": 1,
        "firmware_rollout_task_timeout": 30,
        "firmware_rollout_bmc_timeout": 30,
        "firmware_rollout_host_boot_delay": 0,
        "firmware_rollout_validate_args": "--replay /var/lib/colostack/replay/healthy.json",
        "firmware_rollout_packages": [{"name": "hgx-gpu-bundle", "image_file": str(tmp_path / "gpu.json"),
                                       "versions": GPU_FIRMWARE}],
        "firmware_rollout_report_file": str(tmp_path / "firmware_rollout.jsonl"),
        "colostack_rollout_lock_file": str(tmp_path / "rollout.lock"),
    }))
    try:
        run = playbook("playbooks/firmware_rollout.yml", "--limit", "lc-gpu1")
    finally:
        (host_vars / "lc-gpu1.yml").unlink()
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    events = [json.loads(line)["event"] for line in (tmp_path / "firmware_rollout.jsonl").read_text().splitlines()]
    assert events.index("drain") < events.index("undrain"), events
    validated = re.search(r"TASK \[(?:[\w.]+ : )?Validate the GPUs after the firmware change\].*?\n(\w+): \[lc-gpu1\]", out, re.DOTALL)
    assert validated and validated[1] == "ok", out[-4000:]  # ran, from the runtime on PATH, healthy
    gpu1 = ssh_host("lc-gpu1")
    assert not gpu1.file("/etc/nginx/vllm-drained").exists
    assert gpu1.service("vllm").is_running
    assert backend_status()["lc-gpu1"] == "UP"


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
