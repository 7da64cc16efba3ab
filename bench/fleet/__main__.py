"""Fleet benchmark: GPU-node converge of 1, 2, 4 and 8 test hosts in parallel, and a rolling update.

Usage (repository root): .venv/bin/python -m bench.fleet [--hosts 1,2,4,8] [--rolling 4]
    [--strategy linear|free] [--gather-subset all|min,hardware] [--wheelhouse DIR] [--label X]
Smoke test: --hosts 1,2 --rolling 0.

Converge: for each fleet size, fresh Debian 13 test hosts (Podman systemd containers, no GPU) run
bench/fleet/converge.yml, i.e. the nvidia_driver role against the STAND-IN NVIDIA repository at
branch 550 plus gpu_validate in replay mode, with molecule/rolling_update's variables, in one
ansible-playbook over SSH (bench/testhost.py; ansible.cfg: forks 20, pipelining, ControlPersist). Only that
ansible-playbook run is timed. Target: 8 hosts <= 2.5x the one-host converge time.
Beside wall time it reports the CPU seconds the run used on the controller (ansible-playbook, its
workers, their ssh clients) and inside the hosts (their cgroups): CPU/wall near 2 means the
2-core machine was the limit.

Prepare (not timed): tests/fixtures/nvidia_repo_standin/build_repo.py builds the signed STAND-IN
repository once on the controller; `podman cp` copies the directory into every host, which serves
its own copy on 127.0.0.1:8088 as in molecule/rolling_update (no shared network needed). The
SYNTHETIC replay recordings and a stand-in GPU workload unit are copied in the same way.

Rolling (--rolling N, a converged fleet of N hosts): playbooks/rolling_driver_update.yml moves the
hosts to 570.172.08 at serial 1; a converge takes them back to 550 and their rollout state file is
removed; the rollout runs again at serial 2. Drain and undrain are the scenarios' test drain
(drain_marker.yml: a flag file and a stand-in unit), validation replays the healthy recording.
Every ansible-playbook log goes to .cache/bench-fleet/ with the profile_tasks callback's timings.
Containers are removed at the end, also on failure, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from bench.testhost import (
    ENV,
    REPO,
    TestHost,
    children_cpu,
    connection_vars,
    container_cpu,
    sh,
)

_spec = importlib.util.spec_from_file_location("build_repo", REPO / "tests/fixtures/nvidia_repo_standin/build_repo.py")
assert _spec and _spec.loader
build_repo = importlib.util.module_from_spec(_spec)
sys.modules["build_repo"] = build_repo  # its dataclasses look their module up there
_spec.loader.exec_module(build_repo)

PLAYBOOK = REPO / "bench" / "fleet" / "converge.yml"
ROLLOUT = REPO / "playbooks" / "rolling_driver_update.yml"
LOGS = REPO / ".cache" / "bench-fleet"
FROM_VERSION, TO_VERSION = "550.163.01", "570.172.08"
STATE_FILE = "/var/lib/colostack/rollout-state.json"
TARGET = 2.5

REPO_UNIT = """[Unit]
Description=STAND-IN for NVIDIA's CUDA apt repository (colostack bench.fleet)
[Service]
ExecStart=/usr/bin/python3 -m http.server 8088 --bind 127.0.0.1 --directory /srv/nvidia-repo-standin
[Install]
WantedBy=multi-user.target
"""
WORKLOAD_UNIT = """[Unit]
Description=STAND-IN GPU workload for bench.fleet's rolling update
[Service]
ExecStart=/bin/sleep infinity
[Install]
WantedBy=multi-user.target
"""
# Waits until the repository answers, from inside the host (the image has no curl).
WAIT_REPO = ("import time, urllib.request\n"
             "for _ in range(60):\n"
             "    try:\n"
             "        urllib.request.urlopen('http://127.0.0.1:8088/InRelease', timeout=2).read(); break\n"
             "    except OSError: time.sleep(0.5)\n"
             "else: raise SystemExit('STAND-IN repository did not answer')\n")


@dataclass
class Run:
    """One timed ansible-playbook run."""

    seconds: float
    load_before: float
    load_after: float
    tasks_per_host: int
    log: Path
    controller_cpu: float  # ansible-playbook, its workers and their ssh clients
    hosts_cpu: float  # every process in the test hosts' cgroups (modules, apt, dpkg, pip)
    slowest: list[tuple[str, float]] = field(default_factory=list)


def load1() -> float:
    return os.getloadavg()[0]


def marker_tasks(name: str) -> str:
    """The rolling_faults scenario's test drain/undrain task file."""
    return str(REPO / "molecule" / "rolling_faults" / "tasks" / name)


def group_vars(report: Path, wheelhouse: str = "") -> dict[str, object]:
    """The gpu_nodes variables of the former molecule/rolling_update scenario (as of 8c893c9), resolved."""
    return {
        **connection_vars(),
        "nvidia_driver_version": FROM_VERSION,
        "nvidia_driver_source": "cuda_repo",
        "nvidia_driver_cuda_repo_url": "http://127.0.0.1:8088/",
        "nvidia_driver_cuda_repo_key_url": "http://127.0.0.1:8088/standin-archive-key.asc",
        "nvidia_driver_cuda_repo_key_fingerprint": build_repo.STANDIN_KEY_FINGERPRINT,  # the role pins it now
        "nvidia_driver_nvswitch": "present",
        "nvidia_driver_missing_headers": "warn",
        "colostack_runtime_build_dir": str(REPO / ".cache" / "colostack_runtime"),
        "gpu_validate_replay_file": str(REPO / "tests/data/validate/h100-sxm-healthy.synthetic.json"),
        "gpu_validate_timer_enabled": False,
        "gpu_validate_power_caps_w": {"all": 700},
        "rolling_update_drain_tasks": marker_tasks("drain_marker.yml"),
        "rolling_update_undrain_tasks": marker_tasks("undrain_marker.yml"),
        "rolling_update_report_file": str(report),
        "rolling_update_validate_args": "--replay /var/lib/colostack/replay/healthy.json",
    } | ({"colostack_runtime_wheelhouse": wheelhouse} if wheelhouse else {})


class Fleet:
    """n prepared test hosts and their inventory; close() removes the containers."""

    def __init__(self, size: int, repo_dir: Path, workdir: Path, wheelhouse: str) -> None:
        self.hosts = [TestHost(f"fleet-n{size}-h{i}") for i in range(1, size + 1)]
        self.inventory = workdir / f"fleet-{size}.json"
        self.inventory.write_text(json.dumps({"all": {"children": {"gpu_nodes": {
            "hosts": {h.name: None for h in self.hosts},
            "vars": group_vars(workdir / f"rollout-{size}.jsonl", wheelhouse),
        }}}}, indent=1))
        self.repo_dir = repo_dir

    def desire(self, version: str) -> None:
        """Set the driver version in the inventory, the one target of converges and rollouts."""
        inventory = json.loads(self.inventory.read_text())
        inventory["all"]["children"]["gpu_nodes"]["vars"]["nvidia_driver_version"] = version
        self.inventory.write_text(json.dumps(inventory, indent=1))

    def _prepare(self, host: TestHost) -> None:
        host.start()
        host.exec("mkdir -p /srv /var/lib/colostack/replay")
        sh(["podman", "cp", str(self.repo_dir), f"{host.name}:/srv/nvidia-repo-standin"])
        for name in ("healthy", "bandwidth-60pct"):
            sh(["podman", "cp", str(REPO / f"tests/data/validate/h100-sxm-{name}.synthetic.json"),
                f"{host.name}:/var/lib/colostack/replay/{name}.json"])
        host.exec(f"cat > /etc/systemd/system/nvidia-repo-standin.service <<'EOF'\n{REPO_UNIT}EOF\n"
                  f"cat > /etc/systemd/system/gpu-workload.service <<'EOF'\n{WORKLOAD_UNIT}EOF\n"
                  "systemctl daemon-reload && systemctl enable --now nvidia-repo-standin gpu-workload")
        sh(["podman", "exec", host.name, "python3", "-c", WAIT_REPO])

    def prepare(self) -> None:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(self.hosts)) as pool:
            list(pool.map(self._prepare, self.hosts))

    def driver_versions(self) -> dict[str, str]:
        """The version each host's nvidia_driver local fact records."""
        return {h.name: json.loads(h.exec("cat /etc/ansible/facts.d/nvidia_driver.fact").stdout)["version"]
                for h in self.hosts}

    def rollout_states(self) -> dict[str, str]:
        out = {}
        for h in self.hosts:
            state = json.loads(h.exec(f"cat {STATE_FILE}").stdout)
            out[h.name] = f"{state['state']} {state['to']}"
        return out

    def cpu_seconds(self) -> float:
        """CPU time used so far by everything in the hosts' containers."""
        total = 0.0
        for h in self.hosts:
            used = container_cpu(h.name)
            if used is None:
                raise RuntimeError(f"no CPU usage for {h.name} in its cgroup")
            total += used
        return total

    def reset_rollout(self) -> None:
        for h in self.hosts:
            h.exec(f"rm -f {STATE_FILE}")

    def close(self) -> None:
        for h in self.hosts:
            h.close()


def playbook(label: str, playbook_path: Path, fleet: Fleet, extra: list[str], env: dict[str, str]) -> Run:
    """Run ansible-playbook on the fleet, log to .cache/bench-fleet/LABEL.log, return its wall time."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{label}.log"
    cmd = ["ansible-playbook", "-i", str(fleet.inventory), str(playbook_path), *extra]
    before = load1()
    hosts_cpu, controller_cpu = fleet.cpu_seconds(), children_cpu()
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=3600, check=False)
    seconds = time.monotonic() - t0
    controller_cpu = children_cpu() - controller_cpu
    hosts_cpu = fleet.cpu_seconds() - hosts_cpu
    log.write_text(f"$ {' '.join(cmd)}\n# wall {seconds:.1f} s, rc {proc.returncode}\n{proc.stdout}")
    if proc.returncode != 0:
        raise RuntimeError(f"{label}: ansible-playbook failed ({proc.returncode}), log {log}:\n"
                           f"{proc.stdout[-3000:]}")
    recap = re.findall(r"^\S+\s+: ok=(\d+)", proc.stdout, re.MULTILINE)
    # profile_tasks lines: "Role : task name ---------- 12.34s"
    timings = re.findall(r"^(.+?) -{2,} (\d+\.\d+)s$", proc.stdout, re.MULTILINE)
    slowest = sorted(((name.strip(), float(s)) for name, s in timings), key=lambda t: -t[1])[:5]
    return Run(seconds, before, load1(), max((int(r) for r in recap), default=0), log, controller_cpu, hosts_cpu,
               slowest)


def roll(fleet: Fleet, rolling: dict[int, Run], tag: str, converge_extra: list[str],
         env: dict[str, str]) -> Run:
    """Roll the converged fleet to TO_VERSION at serial 1, back to FROM_VERSION, then at serial 2.

    Fills rolling[serial]; returns the (untimed) converge back to FROM_VERSION between the two."""
    size = len(fleet.hosts)
    reconverge = None
    for serial in (1, 2):
        if serial == 2:
            # Back to 550 by a converge, state file removed: serial 2 starts where serial 1 did.
            fleet.desire(FROM_VERSION)
            reconverge = playbook(f"reconverge-{size}{tag}", PLAYBOOK, fleet, converge_extra, env)
            fleet.reset_rollout()
            if set(fleet.driver_versions().values()) != {FROM_VERSION}:
                raise RuntimeError(f"the converge did not roll the hosts back to {FROM_VERSION}: "
                                   f"{fleet.driver_versions()}")
        fleet.desire(TO_VERSION)
        rolling[serial] = playbook(
            f"rolling-{size}-serial{serial}{tag}", ROLLOUT, fleet,
            ["-e", "colostack_force_window=true", "-e", f"rolling_update_serial={serial}"], env)
        states = fleet.rollout_states()
        if set(states.values()) != {f"done {TO_VERSION}"} or set(fleet.driver_versions().values()) != {TO_VERSION}:
            raise RuntimeError(f"rollout at serial {serial} ended with {states}")
        print(f"rolling {size} hosts serial {serial}: {rolling[serial].seconds:.1f} s", flush=True)
    assert reconverge is not None
    return reconverge


@contextmanager
def signals_as_exit() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into SystemExit so the finally blocks remove the containers."""
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)
    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", default="1,2,4,8", help="fleet sizes to converge, comma-separated")
    ap.add_argument("--rolling", type=int, default=4, help="hosts in the rolling update (0: skip it)")
    ap.add_argument("--strategy", default="linear", help="Ansible strategy for every run (ANSIBLE_STRATEGY)")
    ap.add_argument("--gather-subset", default="all",
                    help="fact subset of the converge play, e.g. min,hardware (the rollout play is not changed)")
    ap.add_argument("--wheelhouse", default="",
                    help="ready wheelhouse on the controller (colostack_runtime_wheelhouse), e.g. "
                         ".cache/colostack_runtime/x86_64-py3.13.5-<hash>; default: built on every run")
    ap.add_argument("--label", default="", help="suffix of the log file names")
    args = ap.parse_args()
    sizes = sorted({int(s) for s in args.hosts.split(",")})
    if args.rolling and args.rolling not in sizes:
        sizes.append(args.rolling)
        sizes.sort()
    timed = {int(s) for s in args.hosts.split(",")}
    env = dict(ENV, ANSIBLE_STRATEGY=args.strategy, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
               PROFILE_TASKS_SORT_ORDER="none", PROFILE_TASKS_TASK_OUTPUT_LIMIT="all")
    converge_extra = ["-e", json.dumps({"fleet_gather_subset": args.gather_subset.split(",")})]
    tag = f"-{args.label}" if args.label else ""
    if args.wheelhouse:
        args.wheelhouse = str(Path(args.wheelhouse).resolve())
        if not list(Path(args.wheelhouse).glob("colostack-*.whl")):
            ap.error(f"--wheelhouse {args.wheelhouse} holds no colostack wheel")

    load_start = os.getloadavg()
    converges: dict[int, Run] = {}
    rolling: dict[int, Run] = {}
    reconverge: Run | None = None
    rolling_error = ""
    fleets: list[Fleet] = []
    with signals_as_exit(), tempfile.TemporaryDirectory(prefix="fleet-") as tmp:
        workdir = Path(tmp)
        repo_dir = workdir / "nvidia-repo-standin"
        sh([sys.executable, str(REPO / "tests/fixtures/nvidia_repo_standin/build_repo.py"), str(repo_dir)])
        try:
            for size in sizes:
                fleet = Fleet(size, repo_dir, workdir, args.wheelhouse)
                fleets.append(fleet)
                fleet.prepare()
                run = playbook(f"converge-{size}{tag}", PLAYBOOK, fleet, converge_extra, env)
                versions = fleet.driver_versions()
                if set(versions.values()) != {FROM_VERSION}:
                    raise RuntimeError(f"converge left drivers {versions}, expected {FROM_VERSION}")
                if size in timed:
                    converges[size] = run
                    print(f"converge {size} hosts: {run.seconds:.1f} s (load {run.load_before:.1f} -> "
                          f"{run.load_after:.1f})", flush=True)
                if size == args.rolling:
                    try:
                        reconverge = roll(fleet, rolling, tag, converge_extra, env)
                    except RuntimeError as exc:  # the rollout playbook is being changed; keep the converges
                        rolling_error = str(exc).splitlines()[0]
                        print(f"rolling update FAILED: {rolling_error}", flush=True)
                fleet.close()
        finally:
            for fleet in fleets:
                fleet.close()
    load_end = os.getloadavg()

    print()
    print(f"bench.fleet, strategy {args.strategy}, gather_subset {args.gather_subset}, forks 20 (ansible.cfg), "
          f"validator wheelhouse {args.wheelhouse or 'built by the role in the run'}; "
          "STAND-IN repository built once on the controller, podman cp'd into each host, served on 127.0.0.1")
    print(f"load average at start {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}, "
          f"at end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f} (2 cores)")
    print(f"{'hosts':>5} {'converge s':>11} {'vs 1 host':>10} {'tasks/host':>11} {'CPU s ctl+hosts':>16} "
          f"{'CPU/wall':>9} {'load 1m before/after':>21}")
    base = converges.get(1)
    for size, run in sorted(converges.items()):
        ratio = f"{run.seconds / base.seconds:.2f}" if base else "-"
        cpu = run.controller_cpu + run.hosts_cpu
        print(f"{size:>5} {run.seconds:>11.1f} {ratio:>10} {run.tasks_per_host:>11} "
              f"{run.controller_cpu:>7.0f}+{run.hosts_cpu:<8.0f} {cpu / run.seconds:>9.2f} "
              f"{run.load_before:>10.1f}/{run.load_after:<10.1f}")
    if base and 8 in converges:
        ratio8 = converges[8].seconds / base.seconds
        print(f"target 8 hosts <= {TARGET}x one host: {ratio8:.2f}x, {'MET' if ratio8 <= TARGET else 'NOT MET'}")
    else:
        print("target 8 hosts <= 2.5x one host: not measured in this run (needs --hosts with 1 and 8)")
    if rolling or rolling_error:
        print(f"\nrolling update {args.rolling} hosts {FROM_VERSION} -> {TO_VERSION} (replayed validation, test drain)")
        for serial, run in sorted(rolling.items()):
            print(f"  serial {serial}: {run.seconds:7.1f} s  (CPU {run.controller_cpu:.0f}+{run.hosts_cpu:.0f} s, "
                  f"load {run.load_before:.1f} -> {run.load_after:.1f})")
        if reconverge:
            print(f"  (converge back to {FROM_VERSION} between them, not part of the ratio: {reconverge.seconds:.1f} s)")
        if rolling_error:
            print(f"  FAILED: {rolling_error}")
        if 1 in rolling and 2 in rolling:
            print(f"  serial1/serial2: {rolling[1].seconds / rolling[2].seconds:.2f}")
    print(f"\nslowest tasks (profile_tasks: wall time of each task over all hosts of its batch); logs in {LOGS}")
    rows = [(f"converge {s}", r) for s, r in sorted(converges.items())]
    rows += [(f"rolling serial {s}", r) for s, r in sorted(rolling.items())]
    for label, run in rows:
        print(f"  {label}: " + "; ".join(f"{name} {s:.1f}s" for name, s in run.slowest[:3]))
    return 1 if rolling_error else 0


if __name__ == "__main__":
    raise SystemExit(main())
