"""`colostack rollout` drives real ansible-playbook runs on localhost through ansible-runner."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from colostack.cli import main
from colostack.rollout import RolloutConfig, RunReport, load_last_report, run_rollout

INVENTORY = """\
[nodes]
node-1 ansible_connection=local ansible_python_interpreter={python}
node-2 ansible_connection=local ansible_python_interpreter={python}
"""

PLAYBOOK = """\
- name: Tiny rollout
  hosts: nodes
  gather_facts: false
  serial: 1
  any_errors_fatal: true
  max_fail_percentage: 0
  tasks:
    - name: Fail on the host named in fail_on
      ansible.builtin.fail:
        msg: "injected failure on {{ inventory_hostname }}\nwith a second line"
      when: inventory_hostname == (fail_on | default(''))
    - name: Wait as long as asked
      ansible.builtin.command: "sleep {{ sleep_s | default(0) }}"
      changed_when: false
    - name: Record a result for the report
      ansible.builtin.set_stats:
        data:
          updated: ["{{ inventory_hostname }}"]
    - name: Record what the playbook was given
      ansible.builtin.set_stats:
        data:
          host_key_checking: "{{ lookup('ansible.builtin.config', 'HOST_KEY_CHECKING') }}"
          run_identity: "{{ colostack_rollout_run_identity.run_id }}"
        aggregate: false
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    (tmp_path / "hosts.ini").write_text(INVENTORY.format(python=sys.executable))
    return tmp_path


def rollout(project: Path, *extra: str) -> int:
    return main(["rollout", str(project / "site.yml"), "-i", str(project / "hosts.ini"),
                 "--report-dir", str(project / "reports"), "--project-dir", str(project),
                 "--lock-file", str(project / "rollout.lock"), *extra])


def test_successful_rollout_exits_zero_and_reports_every_host(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rollout(project) == 0
    report = json.loads((project / "reports" / "last.json").read_text())
    assert report["outcome"] == "succeeded"
    assert {h: r["state"] for h, r in report["hosts"].items()} == {"node-1": "ok", "node-2": "ok"}
    assert report["stats_data"]["updated"] == ["node-1", "node-2"]
    # ansible-runner would turn host-key checking off; rollouts keep it on.
    assert report["stats_data"]["host_key_checking"] is True
    assert report["stats_data"]["run_identity"] == report["run_id"]
    assert (project / "rollout.lock").read_text() == ""  # released
    assert "rollout succeeded" in capsys.readouterr().out


def test_failed_host_halts_the_rollout_and_the_rerun_reads_that_report(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rollout(project, "-e", "fail_on=node-1", "-e", "colostack_force_window=true") == 1
    halted = load_last_report(project / "reports")
    assert halted is not None
    assert halted.outcome == "halted"
    assert halted.forced_window is True
    assert halted.hosts["node-1"].state == "failed"
    assert halted.hosts["node-1"].failed_task == "Fail on the host named in fail_on"
    assert "injected failure on node-1" in (halted.hosts["node-1"].message or "")
    assert "node-2" not in halted.hosts  # serial 1 + any_errors_fatal: never reached
    text = capsys.readouterr().out
    assert "maintenance window OVERRIDDEN" in text
    # Progress came from the event stream, before the summary: the batch, its host, the failure.
    progress = text[:text.index("rollout halted")]
    assert "batch 1 started" in progress and "batch 1: host node-1" in progress
    assert "node-1: FAILED at 'Fail on the host named in fail_on'" in progress
    assert "batch 1 done: node-1 failed" in progress
    assert "batch 2" not in progress
    # The report's summary (the terminal may wrap it): one line per host.
    assert ("  node-1: failed (ok=0 changed=0) at task 'Fail on the host named in fail_on': "
            "injected failure on node-1 with a second line") in halted.summary().splitlines()
    assert rollout(project) == 0
    assert "previous run" in capsys.readouterr().out
    rerun = load_last_report(project / "reports")
    assert rerun is not None
    assert rerun.previous is not None
    assert rerun.previous["outcome"] == "halted"
    assert rerun.previous["hosts"] == {"node-1": "failed"}
    assert len(list((project / "reports").glob("rollout-*.json"))) >= 1


def test_deadline_cancels_a_running_playbook_from_a_worker_thread(project: Path) -> None:
    config = RolloutConfig(
        playbook=project / "site.yml", inventory=project / "hosts.ini",
        report_dir=project / "reports", project_dir=project, extravars={"sleep_s": 60},
        deadline=datetime.now(UTC) + timedelta(seconds=3), lock_file=project / "rollout.lock",
    )
    result: list[RunReport] = []
    began = time.monotonic()
    worker = threading.Thread(target=lambda: result.append(run_rollout(config)))
    worker.start()
    worker.join(timeout=50)
    assert not worker.is_alive(), "the deadline did not stop the playbook"
    report = result[0]
    assert report.outcome == "cancelled"
    assert "deadline" in (report.cancel_reason or "")
    assert time.monotonic() - began < 50


def test_stop_event_cancels_and_cli_refuses_outside_the_window(project: Path) -> None:
    stop = threading.Event()
    config = RolloutConfig(
        playbook=project / "site.yml", inventory=project / "hosts.ini",
        report_dir=project / "reports", project_dir=project, extravars={"sleep_s": 60},
        lock_file=project / "rollout.lock",
    )
    threading.Timer(2.0, stop.set).start()
    report = run_rollout(config, stop)
    assert report.outcome == "cancelled"
    assert report.cancel_reason == "stop requested"
    # A window that opened an hour ago and lasted a minute: nothing may start.
    start = (datetime.now(UTC) - timedelta(hours=1)).strftime("%H:%M")
    window = json.dumps({"start": start, "duration": "1m", "timezone": "UTC"})
    assert rollout(project, "--window", window) == 4
    last = load_last_report(project / "reports")
    assert last is not None
    assert last.outcome == "refused"
    assert last.hosts == {}
