"""Opt-in quarantine: a periodic run that sees a fatal XID or a pending recovery action drains
the node through the vLLM proxy's drain flag, the file the rollouts' drain writes too.

The flag file holds this module's state as JSON (nginx only tests that it exists), so a flag
written by anyone else (a rollout's drain) is never rewritten or removed here. Release is
automatic only when `release_after` > 0: after that many consecutive healthy runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from colostack.fsutil import atomic_write_text
from colostack.validate.model import CheckResult, Status

# Fatal: a fault XID in the window, NVML asking for a recovery action, or a row remap pending
# or failed (the GPU needs a reset). An unreadable kernel log (observed None) is not a fault.
FATAL_CHECKS = frozenset({"xid", "recovery_action", "row_remap"})
OWNER = "colostack validate quarantine"


@dataclass(frozen=True)
class Policy:
    flag: Path
    release_after: int  # consecutive healthy runs before the flag is removed; 0: never


@dataclass(frozen=True)
class State:
    reason: str
    since: str
    healthy_runs: int = 0
    by: str = OWNER


@dataclass(frozen=True)
class Outcome:
    quarantined: bool  # the node is drained by this quarantine after this run
    healthy_runs: int
    message: str  # one line for the journal; empty when nothing is quarantined or changed


def fatal_reasons(results: list[CheckResult]) -> list[str]:
    return [f"{r.where} {r.check}: {r.reason}" for r in results
            if r.status is Status.FAIL and r.check in FATAL_CHECKS and r.observed is not None]


def read_state(flag: Path) -> tuple[bool, State | None]:
    """(flag exists, this module's state in it or None when someone else wrote it)."""
    try:
        text = flag.read_text()
    except FileNotFoundError:
        return False, None
    try:
        data = json.loads(text)
        return True, State(**data) if data.get("by") == OWNER else None
    except (ValueError, TypeError, AttributeError):
        return True, None


def decide(exists: bool, state: State | None, fatal: list[str], healthy: bool, *, now: str,
           release_after: int) -> tuple[State | None, Outcome]:
    """The next state of the flag (None: absent, or someone else's left alone) and the outcome."""
    if exists and state is None:  # drained by a rollout or an operator: not ours to touch
        note = f"QUARANTINE not applied, node already drained by another: {'; '.join(fatal)}"
        return None, Outcome(False, 0, note if fatal else "")
    if fatal:
        reason = "; ".join(fatal)
        if state is None:
            return State(reason, now), Outcome(True, 0, f"QUARANTINE: node drained: {reason}")
        return State(reason, state.since), Outcome(
            True, 0, f"QUARANTINE: node stays drained (since {state.since}): {reason}")
    if state is None:
        return None, Outcome(False, 0, "")
    runs = state.healthy_runs + 1 if healthy else 0
    if release_after > 0 and runs >= release_after:
        return None, Outcome(False, runs, f"QUARANTINE released after {runs} consecutive "
                             f"healthy runs (quarantined since {state.since})")
    rule = (f"release after {release_after}" if release_after > 0
            else "automatic release off: remove the drain flag by hand")
    return State(state.reason, state.since, runs), Outcome(
        True, runs, f"QUARANTINE: node stays drained (since {state.since}), {runs} consecutive "
        f"healthy runs, {rule}: {state.reason}")


def apply(policy: Policy, results: list[CheckResult], healthy: bool, now: str) -> Outcome:
    """Read the flag, decide, and write or remove it."""
    exists, state = read_state(policy.flag)
    new, outcome = decide(exists, state, fatal_reasons(results), healthy, now=now,
                          release_after=policy.release_after)
    if new is not None:
        atomic_write_text(policy.flag, json.dumps(asdict(new)) + "\n")
    elif state is not None:  # ours, released
        policy.flag.unlink(missing_ok=True)
    return outcome
