"""testinfra talks to Podman test hosts with `podman exec` instead of an Ansible module run per command.

testinfra's ansible backend runs commands natively for ssh/docker/lxc hosts but falls back to an
ansible process per command for Podman, which costs seconds each. Map Podman hosts to its
podman backend; host names stay the inventory names, so `testinfra_hosts` filters still work.
"""

from __future__ import annotations

from typing import Any

import testinfra
from testinfra.utils import ansible_runner

_PODMAN_CONNECTIONS = ("podman", "containers.podman.podman")
_native = ansible_runner.get_ansible_host


def _podman_aware(config: Any, inventory: Any, host: str, **kwargs: Any) -> Any:
    hostvars = inventory.get("_meta", {}).get("hostvars", {}).get(host, {})
    if hostvars.get("ansible_connection") in _PODMAN_CONNECTIONS:
        return testinfra.get_host(f"podman://{hostvars.get('ansible_host', host)}")
    return _native(config, inventory, host, **kwargs)


ansible_runner.get_ansible_host = _podman_aware
