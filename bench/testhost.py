"""Fresh Debian 13 test hosts (Podman systemd containers) for the benchmarks, and the play that provisions them."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE = "localhost/debian13-systemd:latest"
# Bench hosts share a project network: only user-defined networks give them DNS (aardvark-dns).
NETWORK = "colostack-bench-net"
ENV = dict(
    os.environ,
    CONTAINERS_CONF=os.environ.get("CONTAINERS_CONF", str(REPO / "molecule/images/containers.conf")),
    PATH=f"{REPO / '.venv/bin'}:{os.environ['PATH']}",
    ANSIBLE_FORCE_COLOR="false",
    ANSIBLE_CACHE_PLUGIN="memory",
    ANSIBLE_ROLES_PATH=str(REPO / "roles"),
)
# Until site.yml exists, the `databases` play it will contain.
FALLBACK_PLAY = "- name: Provision databases\n  hosts: databases\n  roles: [postgresql]\n"


def sh(cmd: list[str], *, check: bool = True, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
    return proc


@dataclass
class TestHost:
    """One systemd container; removed by close()."""

    name: str
    shm_size: str = "64m"

    def start(self) -> TestHost:
        sh(["podman", "rm", "-f", self.name], check=False)
        if sh(["podman", "network", "exists", NETWORK], check=False).returncode != 0:
            sh(["podman", "network", "create", NETWORK])
        sh(["podman", "run", "-d", "--name", self.name, "--hostname", self.name, "--systemd=always",
            f"--network={NETWORK}", f"--shm-size={self.shm_size}", IMAGE, "/sbin/init"])
        for _ in range(60):
            state = sh(["podman", "exec", self.name, "systemctl", "is-system-running"], check=False).stdout.strip()
            if state in ("running", "degraded"):
                return self
            time.sleep(1)
        raise RuntimeError(f"{self.name} did not boot")

    def exec(self, command: str, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
        return sh(["podman", "exec", self.name, "sh", "-c", command], timeout=timeout)

    def ip(self) -> str:
        out = sh(["podman", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", self.name]).stdout.strip()
        if not out:
            raise RuntimeError(f"{self.name} has no IP address")
        return out

    def provision(self, extra_vars: dict[str, object]) -> float:
        """Run site.yml (or its databases play) against this host; return seconds taken."""
        with tempfile.TemporaryDirectory() as tmp:
            inventory = Path(tmp) / "hosts.yml"
            inventory.write_text(json.dumps({"all": {
                "children": {"databases": {"hosts": {self.name: None}}},
                "vars": {"ansible_connection": "containers.podman.podman",
                         "ansible_python_interpreter": "/usr/bin/python3"},
            }}))
            playbook = REPO / "site.yml"
            if not playbook.exists():
                playbook = Path(tmp) / "site.yml"
                playbook.write_text(FALLBACK_PLAY)
            start = time.monotonic()
            sh(["ansible-playbook", "-i", str(inventory), str(playbook), "-e", json.dumps(extra_vars)])
            return time.monotonic() - start

    def close(self) -> None:
        sh(["podman", "rm", "-f", self.name], check=False)
