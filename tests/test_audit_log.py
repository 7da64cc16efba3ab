"""The audit_log callback (plugins/callback/audit_log.py), enabled by the project's ansible.cfg.

A real ansible-playbook run against localhost (local connection) with the project's ansible.cfg:
the run must append exactly one JSON line naming the user, the playbook, the limit, check mode,
per-host counts and the changed task, and never an extra var's value.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PLAYBOOK = """\
- name: Audit log probe
  hosts: all
  gather_facts: false
  tasks:
    - name: Write the probe file
      ansible.builtin.copy:
        content: "probe\\n"
        dest: "{{ probe_dest }}"
        mode: "0644"
    - name: Read nothing
      ansible.builtin.command: "true"
      changed_when: false
"""


def run(tmp_path: Path, log: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), COLOSTACK_AUDIT_LOG=str(log),
               ANSIBLE_CACHE_PLUGIN="memory", ANSIBLE_FORCE_COLOR="false",
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    (tmp_path / "probe.yml").write_text(PLAYBOOK)
    return subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", "--limit", "localhost",
         "-e", f"ansible_python_interpreter={sys.executable}",
         "-e", f"probe_dest={tmp_path / 'probe.txt'}", "-e", "secret_value=hunter2-not-logged",
         *extra, str(tmp_path / "probe.yml")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_each_run_appends_one_line_with_who_what_and_changed_tasks(tmp_path: Path) -> None:
    log = tmp_path / "state" / "audit.jsonl"
    first = run(tmp_path, log, "--check", "--diff")
    assert first.returncode == 0, first.stdout + first.stderr
    assert not (tmp_path / "probe.txt").exists()  # check mode changed nothing
    second = run(tmp_path, log)
    assert second.returncode == 0, second.stdout + second.stderr
    third = run(tmp_path, log)
    assert third.returncode == 0, third.stdout + third.stderr

    text = log.read_text()
    assert "hunter2" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 3
    check, converge, rerun = lines
    assert check["user"] == getpass.getuser()
    assert check["playbook"] == str(tmp_path / "probe.yml")
    assert check["inventory"] == ["localhost,"]
    assert check["limit"] == "localhost"
    assert check["extra_vars"] == ["ansible_python_interpreter", "probe_dest", "secret_value"]
    assert (check["check"], check["diff"]) == (True, True)
    assert check["hosts"]["localhost"]["changed_tasks"] == ["Write the probe file"]  # would change
    assert converge["check"] is False
    assert converge["hosts"]["localhost"] == {
        "ok": 2, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 0, "changed_tasks": ["Write the probe file"]}
    assert rerun["hosts"]["localhost"]["changed"] == 0
    assert rerun["hosts"]["localhost"]["changed_tasks"] == []
    assert check["start"] <= check["end"] <= converge["start"]
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    assert oct(log.parent.stat().st_mode & 0o777) == "0o700"
