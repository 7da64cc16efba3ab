"""Test-side access to a scenario's hosts over the SSH path Ansible uses (molecule/shared/create.yml).

testinfra's ansible backend reads the scenario inventory and ansible.cfg, so its commands share
the key, known host keys, bastion hop and ControlPersist master of the Ansible runs.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import testinfra


def ssh_host(name: str) -> Any:
    """The named test host, reached over SSH."""
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def ssh_forward(name: str, ports: dict[int, int]) -> Iterator[None]:
    """Controller ports forwarded to the named host's loopback ports ({local: remote}), over the
    scenario's SSH config, as an operator reaches a service that listens on the host only."""
    argv = ["ssh", "-F", os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "ssh", "config"),
            "-N", "-o", "ExitOnForwardFailure=yes", "-o", "ControlPath=none"]
    for local, remote in ports.items():
        argv += ["-L", f"127.0.0.1:{local}:127.0.0.1:{remote}"]
    ssh = subprocess.Popen(argv + [name])
    try:
        deadline = time.monotonic() + 20
        while not all(_listening(port) for port in ports):
            assert ssh.poll() is None and time.monotonic() < deadline, f"no SSH forward to {name}"
            time.sleep(0.5)
        yield
    finally:
        ssh.terminate()
        ssh.wait()
