"""One task per rollout state transition, written atomically, checked against the state schema.

op=read: fetch the host's state file, parse it (colostack.rollout.state), refuse a corrupt or
unknown state or a host that a live run owns, and set __rolling_state and __rolling_history (the
host's history when it already worked towards `target`; a new target starts a new one).
Both are facts that later transitions replace, so the playbook never set_facts them: a set_fact
would outrank these facts and freeze the history.
op=record: stamp an event; with `state`, persist the host's new state atomically (temp file,
fsync, rename) and set __rolling_history; append the event to the controller's JSON-lines report
and to the run stats. A report that cannot be written is a warning: it never changes the host.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase
from colostack.rollout.lock import Holder
from colostack.rollout.state import (
    IN_FLIGHT,
    HostState,
    StateError,
    check_owner,
    parse_state,
)

MODULE = "colostack.infra.colostack_rollout_state"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: Any = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        host = str(task_vars.get("inventory_hostname", "?"))
        try:
            if args.get("op") == "read":
                result.update(self._read(args, host, task_vars))
            else:
                result.update(self._record(args, host, task_vars))
        except StateError as exc:
            return {"failed": True, "changed": False, "msg": f"ROLLOUT HALTED: {exc}; nothing "
                    "was changed on the host"}
        return result

    def _remote(self, task_vars: dict[str, Any], **module_args: Any) -> dict[str, Any]:
        done: dict[str, Any] = self._execute_module(
            module_name=MODULE, module_args=module_args, task_vars=task_vars)
        return done

    def _read(self, args: dict[str, Any], host: str, task_vars: dict[str, Any]) -> dict[str, Any]:
        path = str(args["path"])
        where = f"{host}:{path}"
        done = self._remote(task_vars, op="read", path=path)
        if done.get("failed"):
            raise StateError(str(done.get("msg", f"cannot read {where}")))
        state = parse_state(done["content"], where) if done.get("exists") else HostState()
        resume = check_owner(state, Holder.from_mapping(args["run"]), where,
                             bool(args.get("takeover")))
        history = state.history if state.to_version == args.get("target") else []
        return {"changed": False, "resume": resume,
                "ansible_facts": {"__rolling_state": state.to_dict(), "__rolling_history": history}}

    def _record(self, args: dict[str, Any], host: str, task_vars: dict[str, Any]) -> dict[str, Any]:
        event: dict[str, Any] = {"host": host, "event": args.get("event") or "state",
                                 "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        state = args.get("state")
        if state:
            event.update({"state": state, "from": args.get("from_version", ""),
                          "to": args.get("to_version", ""), "driver": args.get("driver", "")})
        event.update(args.get("extra") or {})
        result: dict[str, Any] = {"changed": False, "event": event}
        if state:
            history = [*list(args.get("history") or []), event]
            result["ansible_facts"] = {"__rolling_history": history}
            if args.get("on_host", True):
                run = args.get("run")
                new = HostState(state, event["from"], event["to"], event["time"], history,
                                Holder.from_mapping(run) if run else None)
                if state in IN_FLIGHT and not new.from_version:
                    raise StateError(f"{host}: refusing to record {state} with no version to "
                                     "roll back to")
                done = self._remote(task_vars, op="write", path=str(args["path"]),
                                    content=new.to_json())
                if done.get("failed"):
                    return {"failed": True, "changed": False, "msg": done.get("msg")}
                result["changed"] = True
        warning = _append_report(args.get("report_file"), event)
        if warning:
            result["warnings"] = [warning]
            result["report_error"] = warning
        result["ansible_stats"] = {"data": {str(args.get("stats_key", "rolling_update_events")):
                                            [event]},
                                   "per_host": False, "aggregate": True}
        return result


def _append_report(report_file: Any, event: dict[str, Any]) -> str:
    """Append one JSON line; '' on success, else why not (the host state stays as recorded)."""
    if not report_file:
        return ""
    path = Path(str(report_file))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        return f"could not append to the run report {path}: {exc.strerror or exc}"
    return ""
