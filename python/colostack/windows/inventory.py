"""Read a host's window from the inventory: `ansible-inventory` output or a YAML/JSON file."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from colostack import schema
from colostack.windows.schema import WINDOW_VAR, hosts_in
from colostack.windows.spec import WindowSpec, WindowSpecError


def host_vars_from_inventory(inventory: str, host: str) -> dict[str, Any]:
    """Merged variables of one host as Ansible sees them (group and host vars applied)."""
    cmd = f"ansible-inventory -i {inventory} --host {host}"
    try:
        proc = subprocess.run(["ansible-inventory", "-i", inventory, "--host", host],
                              capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise WindowSpecError(f"{cmd}: ansible-inventory is not installed") from None
    if proc.returncode != 0:
        raise WindowSpecError(f"{cmd}: {proc.stderr.strip()}")
    data = schema.parse_json(proc.stdout, cmd)
    if not isinstance(data, dict):
        raise WindowSpecError(f"{cmd}: expected a JSON object")
    return data


def host_vars_from_file(path: Path, host: str) -> dict[str, Any]:
    """Host vars from `ansible-inventory --list` JSON (`_meta.hostvars`) or a {host: vars} map."""
    where = f"vars file {path}"
    data = schema.parse_yaml(schema.read_text(path, "vars file"), where)  # YAML covers JSON
    hosts = hosts_in(data, where)
    if host not in hosts:
        raise WindowSpecError(f"{where}: no host {host!r}")
    return dict(hosts[host] or {})


def window_for(host_vars: Mapping[str, Any], host: str) -> WindowSpec:
    raw = host_vars.get(WINDOW_VAR)
    if raw is None:
        raise WindowSpecError(f"host {host}: {WINDOW_VAR} is not set in the inventory")
    return WindowSpec.from_mapping(raw)
