"""converge.yml --check (etcd and postgresql with postgresql_ha: patroni) on the fresh hosts, from
prepare.yml, and on the converged cluster: neither fails, the first reports changes, the second none."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

SCENARIO = Path(__file__).resolve().parent.parent
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
MEMBERS = ("pg-ha-1", "pg-ha-2", "pg-ha-3", "pg-ha-backup")  # the repository host too


def recap(stdout: str, host: str) -> dict[str, int]:
    line = re.search(rf"^{host}\s+:(.*)$", stdout, re.MULTILINE)
    assert line, stdout[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.group(1))}


def test_check_on_the_fresh_hosts_fails_nothing_and_reports_changes() -> None:
    run = json.loads((EPHEMERAL / "check-fresh.json").read_text())
    assert run["rc"] == 0, run["stdout"][-4000:] + run["stderr"][-2000:]
    for member in MEMBERS:
        counts = recap(run["stdout"], member)
        assert counts["failed"] == 0 and counts["unreachable"] == 0
        assert counts["changed"] > 0


def test_check_on_the_converged_cluster_reports_no_change() -> None:
    run = subprocess.run(["ansible-playbook", str(SCENARIO / "converge.yml"), "-i",
                          os.environ["MOLECULE_INVENTORY_FILE"], "--check"],
                         cwd=SCENARIO, capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stdout[-4000:]
    for member in MEMBERS:
        assert recap(run.stdout, member)["changed"] == 0, run.stdout[-4000:]
