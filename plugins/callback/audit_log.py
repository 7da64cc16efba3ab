"""Audit trail of playbook runs: one JSON line per run (who, when, what changed).

Enabled in the project's ansible.cfg (callbacks_enabled = colostack.infra.audit_log), so every
site.yml run from a checkout and every rollout the control node's units start writes a line.
Extra vars are never written (they may hold secrets); only their names are.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_log
type: aggregate
short_description: Append one JSON line per playbook run to an audit log
description:
  - At the end of each playbook run, appends one JSON object on one line to O(log_path).
  - The line holds the user (and C(SUDO_USER) when set), the start and end times (UTC), the playbook,
    the inventory sources, the limit, the tags, check and diff mode, the names of the extra vars
    (never their values), per host the ok, changed, failed, unreachable and skipped counts,
    and the names of the tasks that changed (or would change, in check mode) on each host.
  - A run interrupted before its recap writes nothing.
requirements: []
options:
  log_path:
    description:
      - File the lines are appended to; its directory is created (mode 0700) when missing.
      - The default is C(colostack/audit.jsonl) under C($XDG_STATE_HOME), else under C(~/.local/state).
    type: path
    env:
      - name: COLOSTACK_AUDIT_LOG
    ini:
      - section: colostack_audit_log
        key: log_path
"""

import fcntl
import getpass
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ansible import context
from ansible.plugins.callback import CallbackBase


def default_log_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "colostack" / "audit.jsonl"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "colostack.infra.audit_log"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._start = _now()
        self._playbook = ""
        self._changed: dict[str, list[str]] = {}

    def v2_playbook_on_start(self, playbook: Any) -> None:
        self._start = _now()
        self._playbook = os.path.abspath(playbook._file_name)

    def _record(self, result: Any) -> None:
        if result._result.get("changed", False):
            names = self._changed.setdefault(result._host.get_name(), [])
            name = result._task.get_name()
            if name not in names:
                names.append(name)

    def v2_runner_on_ok(self, result: Any) -> None:
        self._record(result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._record(result)

    def v2_playbook_on_stats(self, stats: Any) -> None:
        args = context.CLIARGS
        hosts = {}
        for host in sorted(stats.processed):
            s = stats.summarize(host)
            hosts[host] = {
                "ok": s["ok"], "changed": s["changed"], "failed": s["failures"],
                "unreachable": s["unreachable"], "skipped": s["skipped"],
                "changed_tasks": self._changed.get(host, []),
            }
        extra_names: list[str] = []
        for ev in args.get("extra_vars", ()) or ():
            # -e key=value, -e '{"json": 1}' or -e @file: the names only, never the values.
            if ev.startswith("@"):
                extra_names.append(ev)
            elif ev.lstrip().startswith("{"):
                try:
                    extra_names.extend(sorted(json.loads(ev)))
                except ValueError:
                    extra_names.append("(unparsed)")
            else:
                extra_names.extend(part.split("=", 1)[0] for part in ev.split() if "=" in part)
        line = {
            "user": getpass.getuser(),
            "sudo_user": os.environ.get("SUDO_USER"),
            "start": self._start,
            "end": _now(),
            "playbook": self._playbook,
            "inventory": [os.path.abspath(i) if os.path.exists(i) else i for i in args.get("inventory", ()) or ()],
            "limit": args.get("subset"),
            "tags": [t for t in args.get("tags", ()) or () if t != "all"],
            "check": bool(args.get("check", False)),
            "diff": bool(args.get("diff", False)),
            "extra_vars": extra_names,
            "hosts": hosts,
        }
        path = Path(self.get_option("log_path") or default_log_path())
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)  # concurrent runs append whole lines
                fh.write(json.dumps(line, sort_keys=True) + "\n")
        except OSError as exc:
            self._display.warning(f"colostack audit log: could not write {path}: {exc}")
