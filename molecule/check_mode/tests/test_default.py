"""check_mode: site.yml --check --diff on a fresh host and on the converged one, and the audit log.

prepare.yml ran the check before converge (check-fresh.json); converge was a plain site.yml run (no
idempotence step: lifecycle's second site.yml asserts no change for these roles); the test below runs
the check on the converged host. Each run's audit line
(plugins/callback/audit_log.py) is read back from the scenario's log.
"""

import json
import os
import re
import subprocess
from pathlib import Path

EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
HOST = "cm-d12"


def recap(stdout: str) -> dict[str, int]:
    line = re.search(rf"^{HOST}\s+:(.*)$", stdout, re.MULTILINE)
    assert line, stdout[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.group(1))}


def audit_lines() -> list[dict]:
    lines = [json.loads(x) for x in (EPHEMERAL / "audit.jsonl").read_text().splitlines()]
    return [x for x in lines if Path(x["playbook"]).name in ("site.yml", "converge.yml")]


def test_check_on_the_fresh_host_fails_nothing_and_shows_the_diff(host):
    run = json.loads((EPHEMERAL / "check-fresh.json").read_text())
    assert run["rc"] == 0, run["stdout"][-4000:] + run["stderr"][-2000:]
    counts = recap(run["stdout"])
    assert counts["failed"] == 0 and counts["unreachable"] == 0
    assert counts["changed"] > 0
    # The diff shows what would change (HAProxy's configuration), and never redis.conf, which holds
    # the password (no_log).
    assert re.search(r"^\+\+\+ after: \S*haproxy\.cfg\.j2$", run["stdout"], re.MULTILINE)
    assert re.search(r"^\+\s+server cm-node 127\.0\.0\.1:8443 ", run["stdout"], re.MULTILINE)
    assert "/etc/redis/redis.conf" not in run["stdout"]
    assert "check-mode-test-only" not in run["stdout"] + run["stderr"]


def test_check_on_the_converged_host_reports_no_change(host):
    run = subprocess.run(
        ["ansible-playbook", str(PROJECT / "site.yml"), "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--check", "--diff"],
        cwd=PROJECT, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    counts = recap(run.stdout)
    assert (counts["failed"], counts["unreachable"], counts["changed"]) == (0, 0, 0), run.stdout[-4000:]
    assert "+++ after" not in run.stdout


def test_each_run_left_one_audit_line_with_what_changed(host):
    # The check on the fresh host, converge, then the check above.
    fresh, converge, converged = audit_lines()[-3:]
    assert [x["check"] for x in (fresh, converge, converged)] == [True, False, True]
    assert [Path(x["playbook"]).name for x in (fresh, converge, converged)] == ["site.yml", "converge.yml", "site.yml"]
    for line in (fresh, converge, converged):
        assert line["user"] and line["start"] <= line["end"]
        assert line["hosts"][HOST]["failed"] == 0
    haproxy = "colostack.infra.inference_gateway : Write the HAProxy configuration"  # role : task, as Ansible names it
    assert haproxy in fresh["hosts"][HOST]["changed_tasks"]  # would change
    assert haproxy in converge["hosts"][HOST]["changed_tasks"]
    assert (converged["hosts"][HOST]["changed"], converged["hosts"][HOST]["changed_tasks"]) == (0, [])
