"""Every bad value in tests/data/bad_input.yml is refused before any change, naming its variable.

One ansible-playbook run in check mode against bi-d12 walks the whole table: per row, a block that
includes the role (its entry point, with the role's good values and the one bad value) and a rescue
that lets the run go on. The json callback's task list is then read row by row: a row counts as
refused when its first failed task names the variable and no task before it reported a change.
Per role a control row (good values only, the role's assert tasks) must pass, so a refusal is the
bad value's doing; so must one per context (more good values, for the variables of a mode). The host's packages and files are compared before and after the run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ssh_host

testinfra_hosts = ["bi-d12"]

REPO = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
INVENTORY = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
TABLE: dict[str, Any] = yaml.safe_load((REPO / "tests/data/bad_input.yml").read_text())
HOST = "bi-d12"
# What a role run could change on the host: installed packages, holds, files and units.
SNAPSHOT = (
    "dpkg-query -W -f='${Package} ${Version} ${Status}\\n' | sort; "
    "find /etc /opt /srv /usr/local /var/lib/colostack /var/lib/vllm -xdev "
    "-printf '%p %s %m %u %T@\\n' 2>/dev/null | sort; "
    "systemctl list-unit-files --no-legend | sort"
)
ROW = re.compile(r"^bi-row (\d+) (run|refused)$")


def rows() -> list[dict[str, Any]]:
    """Control rows (one per role) and bad rows, numbered in the order the playbook runs them."""
    out: list[dict[str, Any]] = []
    for role, spec in TABLE.items():
        good = spec.get("good") or {}
        out.append({"role": role, "var": None, "vars": good, "entry": "assert", "owner": None})
        # A context: more good values a mode's variables are checked in (postgresql_ha: patroni).
        contexts = spec.get("contexts") or {}
        for context in contexts.values():
            out.append({"role": role, "var": None, "vars": {**good, **context["vars"]}, "entry": "assert",
                        "owner": None})
        bad = [(None, var, values) for var, values in (spec.get("bad") or {}).items()]
        bad += [(owner, var, values) for owner, table in (spec.get("pending") or {}).items()
                for var, values in table.items()]
        for owner, var, values in bad:
            # A variable of another entry point (postgresql's schema_sql) is tried through that one.
            entry = (spec.get("entries") or {}).get(var, spec.get("entry", "main"))
            for value in values:
                context = next((c["vars"] for c in contexts.values() if var in c["for"]), {})
                out.append({"role": role, "var": var, "vars": {**good, **context, var: value},
                            "entry": entry, "owner": owner})
    return out


def playbook(table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tasks = []
    for index, row in enumerate(table):
        include: dict[str, Any] = {"name": f"colostack.infra.{row['role']}"}
        if row["entry"] != "main":
            include["tasks_from"] = row["entry"]
        tasks.append({
            "name": f"bi-row {index} block",
            "block": [{"name": f"bi-row {index} run", "ansible.builtin.include_role": include,
                       # The scenario's own rollout lock: another run's on this controller is not ours.
                       "vars": {**row["vars"], "colostack_rollout_lock_file": str(EPHEMERAL / "rollout.lock")}}],
            # meta: no worker process, no callback; a failure that did not end the run was rescued.
            "rescue": [{"name": f"bi-row {index} refused", "ansible.builtin.meta": "noop"}],
        })
    return [{"name": "Try every bad value of every role", "hosts": HOST, "become": True,
             "gather_facts": True, "tasks": tasks}]


def outcomes(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Per row: its first failure's message and whether any task reported a change before it."""
    seen: dict[int, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for play in report["plays"]:
        for task in play["tasks"]:
            match = ROW.match(task["task"]["name"])
            result = task["hosts"].get(HOST, {})
            if match and match.group(2) == "run":
                current = seen.setdefault(int(match.group(1)),
                                          {"failed": None, "changed_before": False, "rescued": False})
            elif match:
                seen.setdefault(int(match.group(1)), {})["rescued"] = True
                continue
            if current is None:
                continue
            if result.get("failed") and current["failed"] is None:
                items = [str(r.get("msg", "")) for r in result.get("results") or [] if r.get("failed")]
                current["failed"] = "; ".join(items) or str(result.get("msg", ""))
            elif result.get("changed") and current["failed"] is None:
                current["changed_before"] = True
    return seen


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    table = rows()
    path = EPHEMERAL / "bad_input.yml"
    path.write_text(yaml.safe_dump(playbook(table), sort_keys=False, width=1000))
    before = ssh_host(HOST).check_output(SNAPSHOT)
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
           "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    proc = subprocess.run(["ansible-playbook", str(path), "-i", str(INVENTORY), "--check"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1800, check=False)
    after = ssh_host(HOST).check_output(SNAPSHOT)
    start = proc.stdout.find("{")
    assert start >= 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout[start:])
    (EPHEMERAL / "bad_input.json").write_text(json.dumps(outcomes(report), indent=1))
    return {"table": table, "seen": outcomes(report), "before": before, "after": after,
            "stats": report.get("stats", {})}


def _refused(row: dict[str, Any], got: dict[str, Any] | None) -> bool:
    return bool(got and got.get("rescued") and got.get("failed") and row["var"] in got["failed"]
                and not got.get("changed_before"))


def test_the_good_values_of_every_role_pass_its_checks(run: dict[str, Any]):
    failing = {row["role"]: (run["seen"].get(i) or {}).get("failed")
               for i, row in enumerate(run["table"])
               if row["var"] is None and (run["seen"].get(i) or {}).get("rescued", True)}
    assert failing == {}


def test_every_bad_value_is_refused_before_any_change_naming_its_variable(run: dict[str, Any]):
    missed = [f"{row['role']}: {row['var']}={row['vars'][row['var']]!r} -> "
              f"{(run['seen'].get(i) or {}).get('failed') or 'not refused'}"
              f"{' (after a change)' if (run['seen'].get(i) or {}).get('changed_before') else ''}"
              for i, row in enumerate(run["table"])
              if row["var"] and not row["owner"] and not _refused(row, run["seen"].get(i))]
    assert missed == [], f"{len(missed)} bad values got through:\n" + "\n".join(missed)


def test_pending_rows_are_reported(run: dict[str, Any]):
    """Rows whose check another branch adds: listed, never failing; the lead moves them to bad."""
    pending = [(row["owner"], row["var"], row["vars"][row["var"]], _refused(row, run["seen"].get(i)))
               for i, row in enumerate(run["table"]) if row["owner"]]
    print("pending rows (owner, variable, value, refused now):", *pending, sep="\n  ")
    assert all(owner for owner, *_ in pending)


def test_the_host_is_unchanged(run: dict[str, Any]):
    assert run["after"] == run["before"]
    assert run["stats"].get(HOST, {}).get("changed", 0) == 0
