"""One rollout at a time, batch plans checked up front, state files parsed or refused."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from colostack.cli import main
from colostack.fsutil import atomic_write_text
from colostack.rollout.lock import Holder, LockError, RolloutLock, inspect
from colostack.rollout.plan import (
    Amount,
    Plan,
    PlanError,
    batch_sizes,
    check_keyword_batches,
    halt_after_batch,
    make_plan,
)
from colostack.rollout.report import ReportError, load_last_report
from colostack.rollout.state import StateError, check_owner, parse_state

HOLD = """\
import sys, time
from pathlib import Path
from colostack.rollout.lock import Holder, RolloutLock
lock = RolloutLock(Path(sys.argv[1]), Holder.current("holder.yml"))
lock.acquire()
print("held", flush=True)
time.sleep(float(sys.argv[2]))
if sys.argv[3] == "release":
    lock.release()
"""


def hold_lock(path: Path, seconds: float, release: bool = True) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds),
                             "release" if release else "keep"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_holder_is_refused_naming_the_live_one(tmp_path: Path) -> None:
    path = tmp_path / "rollout.lock"
    first = hold_lock(path, 30)
    try:
        assert inspect(path)[0] == "held"
        with pytest.raises(LockError) as refused:
            RolloutLock(path, Holder.current("second.yml")).acquire()
        assert f"pid {first.pid}" in str(refused.value)
        assert "holder.yml" in str(refused.value)
    finally:
        first.kill()
        first.wait()


def test_a_killed_holder_leaves_a_stale_lock_that_only_an_explicit_takeover_clears(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rollout.lock"
    dead = hold_lock(path, 30)
    dead.kill()  # SIGKILL: no chance to release
    dead.wait()
    status, holder = inspect(path)
    assert status == "stale"
    assert holder is not None and holder.pid == dead.pid and holder.alive() is False
    with pytest.raises(LockError, match=r"stale rollout lock .* no longer running"):
        RolloutLock(path, Holder.current("next.yml")).acquire()
    with RolloutLock(path, Holder.current("next.yml"), take_over=True) as lock:
        assert lock.taken_over is not None and lock.taken_over.pid == dead.pid
        assert inspect(path)[0] == "held"
    assert inspect(path) == ("free", None)


def test_a_clean_exit_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "rollout.lock"
    proc = hold_lock(path, 0)
    proc.wait()
    assert inspect(path) == ("free", None)


def test_the_rollout_command_refuses_while_another_rollout_holds_the_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rollout.lock"
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "last.json").write_text('{"keep": "me"}')
    holder = hold_lock(path, 30)
    try:
        code = main(["rollout", str(tmp_path / "any.yml"), "-i", str(tmp_path / "hosts"),
                     "--report-dir", str(tmp_path / "reports"), "--lock-file", str(path)])
    finally:
        holder.kill()
        holder.wait()
    assert code == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rollout refused: another rollout holds")
    # The refused run wrote nothing into the report directory of the run that holds the lock.
    assert (tmp_path / "reports" / "last.json").read_text() == '{"keep": "me"}'


def test_a_truncated_last_report_is_one_line_and_nothing_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "last.json").write_text('{"playbook": "x.yml", "inven')
    with pytest.raises(ReportError, match=r"last\.json"):
        load_last_report(reports)
    code = main(["rollout", str(tmp_path / "any.yml"), "-i", str(tmp_path / "hosts"),
                 "--report-dir", str(reports), "--lock-file", str(tmp_path / "rollout.lock")])
    assert code == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read the previous run's report" in err[0]
    assert inspect(tmp_path / "rollout.lock") == ("free", None)  # released on the way out


def test_atomic_write_keeps_the_old_content_when_the_disk_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    atomic_write_text(path, "old\n")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left


@pytest.mark.parametrize(("serial", "hosts", "batches"), [
    (1, 4, [1, 1, 1, 1]),
    ("2", 5, [2, 2, 1]),
    ([1, 3], 4, [1, 3]),
    ([1, "50%"], 6, [1, 3, 2]),
    (["10%"], 4, [1, 1, 1, 1]),  # a percentage rounds down, never below one host
])
def test_batch_sizes_match_ansible_serial(serial: object, hosts: int, batches: list[int]) -> None:
    assert batch_sizes(serial, hosts) == batches


@pytest.mark.parametrize(("serial", "message"), [
    (0, "rolling_update_serial must be between 1"),
    (-1, "rolling_update_serial must be a whole number"),
    ("0%", "rolling_update_serial must be between 1"),
    ("150%", "rolling_update_serial must be between 1"),
    ("2\n", "rolling_update_serial must be a whole number"),
    (True, "rolling_update_serial must be a whole number"),
    ([], "rolling_update_serial must not be an empty list"),
    ([1, "x"], "rolling_update_serial must be a whole number"),
])
def test_bad_serial_is_refused_naming_the_variable(serial: object, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        make_plan(serial, "100%", 0, 10)


def test_a_batch_wider_than_the_drained_budget_is_refused() -> None:
    with pytest.raises(PlanError, match="batch of 3 hosts, more than rolling_update_max_drained "
                                        r"allows \(2 of 10 hosts\)"):
        make_plan([1, 3], "25%", 0, 10)
    assert make_plan([1, 2], "25%", "2%", 10).max_drained == 2
    with pytest.raises(PlanError, match="firmware_rollout_serial"):
        make_plan(0, 1, 0, 3, prefix="firmware_rollout")


def test_a_serial_the_play_keyword_did_not_see_is_refused() -> None:
    plan = make_plan([1, 2], "100%", 0, 3)
    check_keyword_batches(plan, [1, 2], [["a"], ["b", "c"], ["b", "c"]])  # the keyword saw it
    # Set in the inventory only: the keyword ran its default of 1.
    with pytest.raises(PlanError, match=r"rolling_update_serial is \[1, 2\] for these hosts "
                                        r"\(batches \[1, 2\]\), but the play's serial keyword "
                                        r"formed batches \[1, 1, 1\].* with -e"):
        check_keyword_batches(plan, [1, 2], [["a"], ["b"], ["c"]])


def test_the_canary_halts_on_any_failure_and_later_batches_on_the_budget() -> None:
    plan = make_plan([1, 2], "100%", 1, 10)
    assert halt_after_batch(plan, attempted=1, failed=1, canary=True).startswith("the canary")
    assert halt_after_batch(plan, attempted=3, failed=1, canary=False) == ""
    assert "exceed the failure budget of 1" in halt_after_batch(plan, 5, 2, canary=False)
    zero = replace(plan, failure_budget=Amount(0, False))
    assert halt_after_batch(zero, 3, 1, canary=False) != ""
    pct = Plan([1, 10], 10, Amount(20, True))
    assert halt_after_batch(pct, 11, 2, canary=False) == ""  # 20 % of 11 = 2 allowed
    assert halt_after_batch(pct, 4, 1, canary=False) != ""  # 20 % of 4 rounds down to 0
    assert Plan.from_dict(pct.to_dict()) == pct


def test_state_files_are_parsed_or_refused_naming_host_and_file() -> None:
    good = {"state": "updating", "from": "550.163.01", "to": "570.172.08", "history": []}
    assert parse_state(json.dumps(good), "h1:/s.json").state == "updating"
    for text, message in [
        ('{"state": "updating", "fr', "h1:/s.json is not valid JSON"),
        ('["updating"]', "is not a JSON object"),
        (json.dumps({**good, "state": "upgrading"}), "unknown state 'upgrading'"),
        (json.dumps({**good, "from": ""}), "records no version to roll back to"),
        (json.dumps({**good, "history": "x"}), "'history' must be a list"),
        (json.dumps({**good, "owner": {"pid": 1}}), "'owner' is malformed"),
    ]:
        with pytest.raises(StateError, match=message):
            parse_state(text, "h1:/s.json")


def test_a_host_owned_by_a_live_run_is_refused_and_a_dead_runs_host_is_resumed() -> None:
    me = Holder.current("me.yml")
    live = Holder.current("other.yml", pid=os.getppid())  # the pytest runner's parent: alive
    state = parse_state(json.dumps({"state": "updating", "from": "550.163.01", "to": "570.172.08",
                                    "history": [], "owner": live.__dict__}), "h1:/s.json")
    with pytest.raises(StateError, match="under a live rollout"):
        check_owner(state, me, "h1:/s.json", take_over=True)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_holder = Holder.current("dead.yml", pid=child.pid)
    child.wait()
    time.sleep(0.1)
    state.owner = dead_holder
    assert check_owner(state, me, "h1", take_over=False) == "resume_dead_run"
    state.owner = replace(dead_holder, controller="another-controller")
    with pytest.raises(StateError, match="cannot check"):
        check_owner(state, me, "h1", take_over=False)
    assert check_owner(state, me, "h1", take_over=True) == "taken_over"
    state.owner = me
    assert check_owner(state, me, "h1", take_over=False) == "own"


def test_a_report_line_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    """The state action appends to the controller's report after the host's state is written;
    a full or read-only report location must not turn that into a failed (rescued) host."""
    spec = importlib.util.spec_from_file_location(
        "colostack_rollout_state_action",
        Path(__file__).resolve().parents[2] / "plugins/action/colostack_rollout_state.py")
    assert spec is not None and spec.loader is not None
    action = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(action)
    event = {"host": "h1", "event": "drain", "time": "2026-11-30T00:00:00.000000Z"}
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    warning = action._append_report(str(blocked / "report.jsonl"), event)
    assert warning.startswith(f"could not append to the run report {blocked}/report.jsonl")
    report = tmp_path / "ok" / "report.jsonl"
    assert action._append_report(str(report), event) == ""
    assert json.loads(report.read_text()) == event
