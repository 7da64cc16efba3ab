"""Converge benchmark: site.yml on a fresh host against a plain apt-get install of the same packages.

Usage (repository root): .venv/bin/python -m bench.converge [--runs ssh/linear,ssh/free,...]
A run `transport/strategy@REF` converges the project as committed at REF (git archive), so a change
is measured against its parent side by side: --runs ssh/linear@main,ssh/linear.

Identical fresh Debian 13 test hosts in one run: on one, a plain `apt-get update && apt-get install`
of the role's package set gives the floor; on another, site.yml's databases play provisions the
host over SSH (the production transport, ansible.cfg's pipelining and ControlPersist), then runs
again (the idempotent re-run). Further hosts repeat both with the `free` strategy, with mitogen's
`mitogen_linear` (operator options, docs/testing.md), and through `podman exec` (the harness's old
transport). Runs are sequential, so they do not share the CPUs.
Targets (issue 16): converge <= 1.25x the floor, re-run <= 0.15x converge.
"""

from __future__ import annotations

import argparse
import re
import secrets
import time

from bench.testhost import REPO, Run, TestHost, export, network_cidr

# The role's package set on Debian 13 (roles/postgresql/vars/main.yml, __postgresql_packages).
RUNS = ("ssh/linear", "ssh/free", "ssh/mitogen_linear", "podman/linear")
PACKAGES = "postgresql-17 postgresql-17-pgvector postgresql-client-17 pgbouncer python3-psycopg2 python3-cryptography"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default=",".join(RUNS), help="transport/strategy pairs, the first is the baseline")
    args = ap.parse_args()
    floor_host = TestHost("bench-converge-apt")
    hosts = {r: TestHost("bench-converge-" + re.sub(r"[^a-z0-9]+", "-", r.lower()).strip("-"))
             for r in args.runs.split(",")}
    runs: dict[str, tuple[Run, Run]] = {}
    extra: dict[str, object] = {
        "postgresql_app_password": secrets.token_urlsafe(18),
        "postgresql_listen_addresses": ["*"],
        "postgresql_pgvector_min_version": "0.8.0"}  # Debian 13's pgvector, as the test hosts accept it
    try:
        for h in [floor_host, *hosts.values()]:
            h.start()
        extra["postgresql_hba_allowed_cidrs"] = [network_cidr()]  # the bench network, once it exists
        t0 = time.monotonic()
        floor_host.exec("apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                        f"apt-get install -y -qq --no-install-recommends {PACKAGES} >/dev/null")
        floor = time.monotonic() - t0
        for r, h in hosts.items():
            spec, _, ref = r.partition("@")
            transport, strategy = spec.split("/")
            project = export(ref) if ref else REPO
            runs[r] = (h.provision(extra, transport, strategy, project), h.provision(extra, transport, strategy, project))
    finally:
        for h in [floor_host, *hosts.values()]:
            h.close()

    print(f"{'step':40}{'seconds':>9}{'ratio':>8}{'target':>8}{'tasks':>7}{'ctl cpu s':>11}")
    print(f"{'apt-get install (floor)':40}{floor:>9.1f}{'1.00':>8}")
    for t, (converge, rerun) in runs.items():
        print(f"{'site.yml converge, ' + t:40}{converge.seconds:>9.1f}{converge.seconds / floor:>8.2f}"
              f"{'<=1.25':>8}{converge.tasks:>7}{converge.controller_cpu:>11.1f}")
        print(f"{'site.yml re-run, ' + t:40}{rerun.seconds:>9.1f}{rerun.seconds / converge.seconds:>8.2f}"
              f"{'<=0.15':>8}{rerun.tasks:>7}{rerun.controller_cpu:>11.1f}")
    base_name, base = next(iter(runs.items()))
    for r, (converge, rerun) in list(runs.items())[1:]:
        print(f"{r} / {base_name}: converge {converge.seconds / base[0].seconds:.2f}, "
              f"re-run {rerun.seconds / base[1].seconds:.2f}, controller CPU {converge.controller_cpu / base[0].controller_cpu:.2f}")
    print("(converge ratio against the floor, re-run ratio against that transport's converge)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
