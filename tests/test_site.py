"""site.yml's preflight: every role's variables on every host are checked before any host changes.

The plays run against the example colo inventory with a local connection (the checks read
variables and facts only); the full site.yml over SSH runs in molecule/site and molecule/lifecycle.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from conftest import REPO


def secrets_token(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def test_preflight_checks_exactly_the_roles_each_play_of_site_yml_applies():
    first, *rest = yaml.safe_load((REPO / "site.yml").read_text())
    preflight = {group: [f"colostack.infra.{role}" for role in roles]
                 for group, roles in first["vars"]["site_roles"].items()}
    plays: dict[str, list[str]] = {}
    for play in (p for p in rest if "roles" in p):  # a play may serve several groups (node_exporter's)
        for group in play["hosts"].split(":"):
            plays.setdefault(group, []).extend(r["role"] for r in play["roles"])
    assert plays == preflight


def colo_copy(tmp_path: Path, host_vars: dict[str, dict]) -> Path:
    """The example colo inventory with its vault filled in (unencrypted) as an operator would."""
    inventory = tmp_path / "colo"
    shutil.copytree(REPO / "inventories/colo", inventory)
    example = yaml.safe_load((inventory / "group_vars/all/vault.yml.example").read_text())
    secrets = {name: secrets_token(name) for name in example}
    (inventory / "group_vars/all/vault.yml").write_text(yaml.safe_dump(secrets))
    for host, values in host_vars.items():
        path = inventory / "host_vars" / f"{host}.yml"
        current = yaml.safe_load(path.read_text()) if path.exists() else {}
        path.write_text(yaml.safe_dump({**(current or {}), **values}))
    return inventory


def preflight(inventory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ansible-playbook", "site.yml", "-i", str(inventory), "--tags", "preflight",
         "-e", "ansible_connection=local", "-e", "ansible_python_interpreter=/usr/bin/python3"],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


def test_example_colo_inventory_passes_the_preflight(tmp_path: Path):
    run = preflight(colo_copy(tmp_path, {}))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "PREFLIGHT FAILED" not in run.stdout


def test_preflight_names_every_bad_variable_and_stops_before_the_first_play_that_changes(tmp_path: Path):
    inventory = colo_copy(tmp_path, {
        "hgx-h100-01": {"vllm_gpu_memory_utilization": 1.5},
        "db-01": {"postgresql_port": 70000},
        "gw-01": {"inference_gateway_backends": []},
    })
    run = subprocess.run(["ansible-playbook", "site.yml", "-i", str(inventory), "--check",
                          "-e", "ansible_connection=local", "-e", "ansible_python_interpreter=/usr/bin/python3"],
                         cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    out = run.stdout + run.stderr
    assert run.returncode != 0
    failed = set(re.findall(r"^fatal: \[([^]]+)\]", out, re.MULTILINE))
    assert failed == {"hgx-h100-01", "db-01", "gw-01"}, out[-4000:]
    assert "PREFLIGHT FAILED, no host changed" in out
    assert "vllm_gpu_memory_utilization must be in (0, 1], got 1.5" in out
    assert "postgresql_port" in out
    assert "inference_gateway_backends needs at least one non-backup server" in out
    assert "PLAY [Provision" not in out
