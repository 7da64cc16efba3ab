"""Read a host's window from the inventory: `ansible-inventory` output or a YAML/JSON file."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from colostack.windows.spec import WindowSpec, WindowSpecError

WINDOW_VAR = "colostack_maintenance_window"


def host_vars_from_inventory(inventory: str, host: str) -> dict[str, Any]:
    """Merged variables of one host as Ansible sees them (group and host vars applied)."""
    proc = subprocess.run(
        ["ansible-inventory", "-i", inventory, "--host", host],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        cmd = f"ansible-inventory -i {inventory} --host {host}"
        raise WindowSpecError(f"{cmd}: {proc.stderr.strip()}")
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def host_vars_from_file(path: Path, host: str) -> dict[str, Any]:
    """Host vars from `ansible-inventory --list` JSON (`_meta.hostvars`) or a {host: vars} map."""
    data = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
    if not isinstance(data, Mapping):
        raise WindowSpecError(f"{path}: expected a mapping")
    hosts = data.get("_meta", {}).get("hostvars", data)
    if host not in hosts:
        raise WindowSpecError(f"{path}: no host {host!r}")
    found: dict[str, Any] = dict(hosts[host] or {})
    return found


def window_for(host_vars: Mapping[str, Any], host: str) -> WindowSpec:
    raw = host_vars.get(WINDOW_VAR)
    if raw is None:
        raise WindowSpecError(f"host {host}: {WINDOW_VAR} is not set in the inventory")
    return WindowSpec.from_mapping(raw)
