"""Controller-side guard of a rolling change (driver or firmware rollout).

phase=start (run_once, before any host changes): who this run is, whether another rollout holds
the controller's lock, whether serial, the drained budget and the failure budget fit the
fleet, and whether the play's serial keyword saw the same serial (keyword_batches).
phase=batch_end (run_once after each batch): whether the rollout halts here.
Logic lives in colostack.rollout (lock, plan); this file only adapts it to Ansible.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase
from colostack.rollout.lock import DEFAULT_LOCK_FILE, Holder, RolloutLock, inspect
from colostack.rollout.plan import (
    Plan,
    PlanError,
    check_keyword_batches,
    halt_after_batch,
    make_plan,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: Any = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = self._task.args
        result["changed"] = False
        try:
            if args.get("phase", "start") == "batch_end":
                result.update(self._batch_end(args))
            else:
                result.update(self._start(args))
        except (PlanError, _Refused) as exc:
            return {"failed": True, "msg": str(exc), "changed": False}
        return result

    def _start(self, args: dict[str, Any]) -> dict[str, Any]:
        lock_file = Path(args.get("lock_file") or DEFAULT_LOCK_FILE)
        given = args.get("run")
        # Under `colostack rollout` the wrapper holds the lock and passes its identity; a plain
        # ansible-playbook run is identified by its own process (the parent of this worker).
        run = Holder.from_mapping(given) if given else Holder.current(
            str(args.get("playbook", "")), pid=os.getppid())
        status, holder = inspect(lock_file)
        notes: list[str] = []
        if status == "held" and (holder is None or holder.run_id != run.run_id):
            who = holder.describe() if holder else "an unreadable record"
            raise _Refused(f"ROLLOUT REFUSED: another rollout holds {lock_file}: {who}")
        if status == "stale":
            who = holder.describe() if holder else "an unreadable record"
            if not args.get("takeover"):
                raise _Refused(
                    f"ROLLOUT REFUSED: stale rollout lock {lock_file} left by {who}, which is no "
                    "longer running. Check its hosts, then re-run with "
                    "colostack_rollout_takeover=true (colostack rollout --take-over)")
            with RolloutLock(lock_file, run, take_over=True):
                pass  # taking it over and letting go clears the dead run's record
            notes.append(f"took over the stale lock of {who}")
        if not given:
            notes.append("not run through `colostack rollout`: this run checked the lock but "
                         "does not hold it")
        plan = make_plan(args.get("serial", 1), args.get("max_drained", "25%"),
                         args.get("failure_budget", 0), len(args.get("hosts") or []),
                         str(args.get("prefix", "rolling_update")))
        if args.get("keyword_batches") is not None:
            check_keyword_batches(plan, args.get("serial", 1), list(args["keyword_batches"]),
                                  str(args.get("prefix", "rolling_update")))
        return {"ansible_facts": {"colostack_rollout_run": run.__dict__.copy(),
                                  "colostack_rollout_plan": plan.to_dict()},
                "warnings": notes}

    @staticmethod
    def _batch_end(args: dict[str, Any]) -> dict[str, Any]:
        plan = Plan.from_dict(args["plan"])
        attempted = list(args.get("attempted") or [])
        failed = list(args.get("failed") or [])
        batch = list(args.get("batch") or [])
        canary = len(attempted) == len(batch)
        reason = halt_after_batch(plan, len(attempted), len(failed), canary)
        return {"halt": bool(reason), "reason": reason,
                "msg": reason or f"{len(failed)} failed of {len(attempted)}: the rollout goes on"}


class _Refused(Exception):
    pass
