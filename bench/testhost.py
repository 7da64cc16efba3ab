"""Fresh Debian 13 test hosts (Podman systemd containers) for the benchmarks, reached over SSH.

Podman only starts and removes the hosts (and copies fixtures in); Ansible reaches them as in
production: SSH with the project's ansible.cfg (pipelining, ControlPersist), a generated key and
host keys read out of band. `transport="podman"` keeps the old `podman exec` connection, for a
side-by-side comparison in one run.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE = "localhost/debian13-systemd:latest"
# Bench hosts share a project network: only user-defined networks give them DNS (aardvark-dns).
NETWORK = "colostack-bench-net"
SSH_DIR = REPO / ".cache" / "bench-ssh"
SSH_CONFIG = SSH_DIR / "config"
ENV = dict(
    os.environ,
    CONTAINERS_CONF=os.environ.get("CONTAINERS_CONF", str(REPO / "molecule/images/containers.conf")),
    PATH=f"{REPO / '.venv/bin'}:{os.environ['PATH']}",
    ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
    ANSIBLE_FORCE_COLOR="false",
    ANSIBLE_CACHE_PLUGIN="memory",
)


def export(ref: str) -> Path:
    """The project as committed at `ref` (git archive), for a before/after comparison in one run."""
    commit = sh(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"]).stdout.strip()
    dest = REPO / ".cache" / "bench-ref" / commit
    if not (dest / "site.yml").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", commit], cwd=REPO, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def sh(cmd: list[str], *, check: bool = True, timeout: int = 1800,
       env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=REPO, env=ENV | (env or {}), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
    return proc


def network_cidr() -> str:
    """The bench network's IPv4 subnet: the hosts and the controller (its gateway) are in it."""
    out = sh(["podman", "network", "inspect", "-f", "{{range .Subnets}}{{.Subnet}} {{end}}", NETWORK]).stdout.split()
    subnets = [s for s in out if ":" not in s]
    if not subnets:
        raise RuntimeError(f"podman network {NETWORK} has no IPv4 subnet")
    return subnets[0]


def ssh_setup() -> None:
    """The bench key and an SSH config that includes one block (and one known_hosts) per host."""
    (SSH_DIR / "hosts").mkdir(parents=True, exist_ok=True)
    SSH_DIR.chmod(0o700)
    if not (SSH_DIR / "id_ed25519").exists():
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(SSH_DIR / "id_ed25519")])
    SSH_CONFIG.write_text(
        f"Include {SSH_DIR}/hosts/*.conf\n"
        "Host *\n  User root\n"
        f"  IdentityFile {SSH_DIR}/id_ed25519\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {SSH_DIR}/hosts/%n.known\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n")


def connection_vars(transport: str = "ssh") -> dict[str, object]:
    if transport == "podman":
        return {"ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"}
    return {"ansible_connection": "ssh", "ansible_user": "root", "ansible_ssh_common_args": f"-F {SSH_CONFIG}",
            "ansible_python_interpreter": "/usr/bin/python3"}


def strategy_env(strategy: str) -> dict[str, str]:
    """ANSIBLE_STRATEGY for linear, free or one of mitogen's (mitogen_linear, mitogen_free)."""
    env = {"ANSIBLE_STRATEGY": strategy}
    if strategy.startswith("mitogen"):
        import ansible_mitogen  # type: ignore[import-not-found,import-untyped,unused-ignore]  # optional

        env["ANSIBLE_STRATEGY_PLUGINS"] = str(Path(ansible_mitogen.__file__).parent / "plugins" / "strategy")
    return env


def children_cpu() -> float:
    """CPU seconds of finished child processes (ansible-playbook, its workers, their ssh/podman clients)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def container_cpu(name: str) -> float | None:
    """CPU seconds the named container used since it last started (its cgroup: v1 cpuacct or v2
    cpu.stat); None when it is gone or its cgroup cannot be read."""
    found = subprocess.run(["podman", "inspect", "-f", "{{.State.CgroupPath}}", name],
                           capture_output=True, text=True, check=False)
    cgroup = found.stdout.strip().lstrip("/")
    if found.returncode != 0 or not cgroup:
        return None
    v1 = Path("/sys/fs/cgroup/cpuacct", cgroup, "cpuacct.usage")
    if v1.is_file():
        return int(v1.read_text()) / 1e9
    v2 = Path("/sys/fs/cgroup", cgroup, "cpu.stat")
    if v2.is_file():
        stat = dict(line.split() for line in v2.read_text().splitlines())
        return int(stat["usage_usec"]) / 1e6
    return None


@dataclass
class Run:
    seconds: float
    controller_cpu: float
    tasks: int  # task results on the host (ok + changed + skipped + failed), from the play recap


def recap_tasks(output: str, host: str) -> int:
    for line in output.splitlines():
        if line.startswith(host) and "ok=" in line:
            fields = dict(f.split("=") for f in line.split(":", 1)[1].split())
            return sum(int(fields.get(k, 0)) for k in ("ok", "changed", "skipped", "failed"))
    raise RuntimeError(f"no play recap for {host}")


@dataclass
class TestHost:
    """One systemd container; removed by close()."""

    name: str
    shm_size: str = "64m"

    def start(self) -> TestHost:
        ssh_setup()
        sh(["podman", "rm", "-f", self.name], check=False)
        if sh(["podman", "network", "exists", NETWORK], check=False).returncode != 0:
            sh(["podman", "network", "create", NETWORK])
        sh(["podman", "run", "-d", "--name", self.name, "--hostname", self.name, "--systemd=always",
            f"--network={NETWORK}", f"--shm-size={self.shm_size}",
            "-v", f"{SSH_DIR / 'id_ed25519.pub'}:/root/.ssh/authorized_keys:ro", IMAGE, "/sbin/init"])
        for _ in range(60):
            state = sh(["podman", "exec", self.name, "systemctl", "is-system-running"], check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(1)
        else:
            raise RuntimeError(f"{self.name} did not boot")
        # The host key, read out of band: nothing is trusted on first use.
        key = self.exec("systemctl start ssh && cat /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[:2]
        (SSH_DIR / "hosts" / f"{self.name}.known").write_text(f"{self.name} {' '.join(key)}\n")
        (SSH_DIR / "hosts" / f"{self.name}.conf").write_text(
            f"Host {self.name}\n  HostName {self.ip()}\n  HostKeyAlias {self.name}\n")
        return self

    def exec(self, command: str, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
        return sh(["podman", "exec", self.name, "sh", "-c", command], timeout=timeout)

    def ip(self) -> str:
        out = sh(["podman", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", self.name]).stdout.strip()
        if not out:
            raise RuntimeError(f"{self.name} has no IP address")
        return out

    def provision(self, extra_vars: dict[str, object], transport: str = "ssh", strategy: str = "linear",
                  project: Path = REPO) -> Run:
        """Run site.yml's databases play against this host (from `project`: the checkout, or an exported commit)."""
        with tempfile.TemporaryDirectory() as tmp:
            inventory = Path(tmp) / "hosts.yml"
            inventory.write_text(json.dumps({"all": {
                "children": {"databases": {"hosts": {self.name: None}}},
                "vars": connection_vars(transport),
            }}))
            cpu, start = children_cpu(), time.monotonic()
            out = sh(["ansible-playbook", "-i", str(inventory), str(project / "site.yml"), "-e", json.dumps(extra_vars)],
                     env=strategy_env(strategy) | {"ANSIBLE_CONFIG": str(project / "ansible.cfg")})
            return Run(time.monotonic() - start, children_cpu() - cpu, recap_tasks(out.stdout, self.name))

    def close(self) -> None:
        sh(["podman", "rm", "-f", self.name], check=False)
        for suffix in (".conf", ".known"):
            (SSH_DIR / "hosts" / f"{self.name}{suffix}").unlink(missing_ok=True)
