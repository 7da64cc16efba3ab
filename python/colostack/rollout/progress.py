"""Progress lines from ansible-runner's event stream: batches, the task each runs, host results.

ansible announces a serial play again for each batch; ansible-runner then suffixes its uuid
(`<uuid>_2`). Lines are plain text: the CLI prints them to stdout, which is a terminal for
an operator and the journal when the control node's unit runs the rollout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Host results worth a line of their own; ok and skipped ones add up in the batch summary.
_NOTABLE = {"runner_on_failed": "FAILED", "runner_on_unreachable": "UNREACHABLE"}
_STATES = {"runner_on_ok": "ok", "runner_on_skipped": "ok",
           **{k: v.lower() for k, v in _NOTABLE.items()}}
_WORSE = ("ok", "changed", "rescued", "failed", "unreachable")


@dataclass
class Progress:
    """Feed it every event in order; each call returns the lines that event adds."""

    batch: int = 0
    _play: str | None = None
    _hosts: dict[str, str] = field(default_factory=dict)  # host -> worst state this batch

    def __call__(self, event: dict[str, Any]) -> list[str]:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        stamp = str(event.get("created", ""))[11:19]  # HH:MM:SS of the ISO time, if any
        lines: list[str] = []
        if kind == "playbook_on_play_start":
            lines += self._end_batch()
            play = str(data.get("play_uuid", "")).split("_")[0]
            if play != self._play:
                self._play, self.batch = play, 0
                lines.append(f"play '{data.get('play', '?')}' started")
            self.batch += 1
            lines.append(f"batch {self.batch} started")
        elif kind == "playbook_on_task_start":
            lines.append(f"batch {self.batch}: task '{data.get('task', '?')}'")
        elif kind == "runner_on_start" and str(data.get("host")) not in self._hosts:
            self._hosts[str(data.get("host"))] = "ok"
            lines.append(f"batch {self.batch}: host {data.get('host')}")
        elif kind in _STATES:
            host = str(data.get("host", "?"))
            state = _STATES[kind]
            if kind == "runner_on_ok" and (data.get("res") or {}).get("changed"):
                state = "changed"
            if not data.get("ignore_errors"):
                self._worsen(host, state)
            if kind in _NOTABLE and not data.get("ignore_errors"):
                msg = str((data.get("res") or {}).get("msg", "")).strip().splitlines()
                lines.append(f"{host}: {_NOTABLE[kind]} at '{data.get('task', '?')}'"
                             + (f": {msg[0]}" if msg else ""))
        elif kind == "playbook_on_stats":
            lines += self._end_batch()
        return [f"{stamp} {line}" if stamp else line for line in lines]

    def _worsen(self, host: str, state: str) -> None:
        before = self._hosts.get(host, "ok")
        if before == "failed" and state in ("ok", "changed"):
            state = "rescued"  # a host that failed for good runs nothing more
        self._hosts[host] = max(before, state, key=_WORSE.index) if before != "failed" else state

    def _end_batch(self) -> list[str]:
        if not self.batch or not self._hosts:
            return []
        hosts = ", ".join(f"{h} {s}" for h, s in sorted(self._hosts.items()))
        self._hosts = {}
        return [f"batch {self.batch} done: {hosts}"]
