"""Converge benchmark: site.yml on a fresh host against a plain apt-get install of the same packages.

Usage (repository root): .venv/bin/python -m bench.converge

Two identical fresh Debian 13 test hosts are started in the same run. On one, a plain
`apt-get update && apt-get install` of the role's package set gives the floor; on the other,
site.yml's databases play provisions the host, then runs again (idempotent re-run).
Targets: converge <= 1.25x the floor, re-run <= 0.15x converge.
"""

from __future__ import annotations

import argparse
import secrets
import time

from bench.testhost import TestHost

# The role's package set on Debian 13 (roles/postgresql/vars/main.yml, __postgresql_packages).
PACKAGES = "postgresql-17 postgresql-17-pgvector postgresql-client-17 pgbouncer python3-psycopg2 python3-cryptography"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.parse_args()
    floor_host = TestHost("bench-converge-apt")
    role_host = TestHost("bench-converge-role")
    try:
        floor_host.start()
        role_host.start()
        t0 = time.monotonic()
        floor_host.exec("apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                        f"apt-get install -y -qq --no-install-recommends {PACKAGES} >/dev/null")
        floor = time.monotonic() - t0
        extra = {"postgresql_app_password": secrets.token_urlsafe(18),
                 "postgresql_listen_addresses": ["*"], "postgresql_hba_allowed_cidrs": ["0.0.0.0/0"]}
        converge = role_host.provision(extra)
        rerun = role_host.provision(extra)
    finally:
        floor_host.close()
        role_host.close()

    print(f"{'step':34}{'seconds':>9}{'ratio':>8}{'target':>8}")
    print(f"{'apt-get install (floor)':34}{floor:>9.1f}{'1.00':>8}{'':>8}")
    print(f"{'site.yml converge (fresh host)':34}{converge:>9.1f}{converge / floor:>8.2f}{'<=1.25':>8}")
    print(f"{'site.yml re-run (idempotent)':34}{rerun:>9.1f}{rerun / converge:>8.2f}{'<=0.15':>8}")
    print("(re-run ratio is against converge)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
