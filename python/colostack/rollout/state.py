"""A host's rollout state file: parsed against its schema, never guessed at.

The file lives on the host (`rolling_update_state_file`) and says where the host stands in a
rolling driver update, which run owns it while it is in flight, and the history of transitions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from colostack.rollout.lock import Holder

STATES = ("pending", "admitted", "drained", "updating", "validating", "done", "rolled_back",
          "failed")
IN_FLIGHT = frozenset({"admitted", "drained", "updating", "validating"})


class StateError(ValueError):
    """The state file cannot be used; the message names the file and what is wrong."""


@dataclass
class HostState:
    state: str = "pending"
    from_version: str = ""
    to_version: str = ""
    updated: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    owner: Holder | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"state": self.state, "from": self.from_version,
                                "to": self.to_version, "updated": self.updated,
                                "history": self.history}
        if self.owner is not None:
            data["owner"] = self.owner.__dict__.copy()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


def parse_state(text: str, where: str) -> HostState:
    """Parse a state file's text; `where` (host:path) goes into every error message."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f"rollout state {where} is not valid JSON ({exc.msg} at line "
                         f"{exc.lineno}); it may be truncated") from None
    if not isinstance(data, dict):
        raise StateError(f"rollout state {where} is not a JSON object")
    state = data.get("state")
    if state not in STATES:
        raise StateError(f"rollout state {where} has unknown state {state!r} "
                         f"(known: {', '.join(STATES)})")
    for key in ("from", "to"):
        if not isinstance(data.get(key, ""), str):
            raise StateError(f"rollout state {where}: '{key}' must be a version string")
    history = data.get("history", [])
    if not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
        raise StateError(f"rollout state {where}: 'history' must be a list of events")
    if state in IN_FLIGHT and not data.get("from"):
        raise StateError(f"rollout state {where} is {state} but records no version to roll "
                         "back to ('from' is empty)")
    owner = None
    if data.get("owner") is not None:
        try:
            owner = Holder.from_mapping(data["owner"])
        except ValueError as exc:
            raise StateError(f"rollout state {where}: 'owner' is malformed ({exc})") from None
    return HostState(state, data.get("from", ""), data.get("to", ""),
                     str(data.get("updated", "")), history, owner)


def check_owner(host_state: HostState, run: Holder, where: str, take_over: bool) -> str:
    """Refuse a host that another run is changing; return why this run may go on.

    A host in flight belongs to the run recorded in it. That run's work may be resumed when the
    run is this one or known to be dead, never when it is alive; when its liveness cannot be
    told (another controller), only an explicit takeover resumes it.
    """
    owner = host_state.owner
    if host_state.state not in IN_FLIGHT or owner is None or owner.run_id == run.run_id:
        return "own" if owner is not None and owner.run_id == run.run_id else "free"
    alive = owner.alive()
    if alive:
        raise StateError(f"{where} is {host_state.state} under a live rollout: {owner.describe()}")
    if alive is None and not take_over:
        raise StateError(f"{where} is {host_state.state} under {owner.describe()}, whose "
                         "liveness this controller cannot check; if that run is dead, take it "
                         "over explicitly (colostack_rollout_takeover=true)")
    return "resume_dead_run" if alive is False else "taken_over"
