"""One rollout at a time per controller: an flock on a lock file that names its holder.

The kernel drops the flock when the holding process dies, so a live holder is never mistaken for
a dead one. A holder that exits cleanly empties the file; a holder that was killed leaves its
record behind, so the next run sees a stale lock and must take it over explicitly.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

DEFAULT_LOCK_FILE = Path("/var/lib/colostack/rollouts/rollout.lock")


def pid_start(pid: int) -> str:
    """The process start time in clock ticks since boot ('' when there is no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass(frozen=True)
class Holder:
    """Who runs a rollout: also the owner recorded in each host's state file."""

    run_id: str
    controller: str
    pid: int
    pid_start: str
    started: str
    playbook: str = ""

    @classmethod
    def current(cls, playbook: str, pid: int | None = None) -> Holder:
        pid = os.getpid() if pid is None else pid
        started = datetime.now(UTC).replace(microsecond=0).isoformat()
        host = socket.gethostname()
        start = pid_start(pid)
        return cls(f"{host}:{pid}:{start}", host, pid, start, started, playbook)

    @classmethod
    def from_mapping(cls, data: Any) -> Holder:
        if not isinstance(data, dict):
            raise ValueError("not a mapping")
        try:
            return cls(str(data["run_id"]), str(data["controller"]), int(data["pid"]),
                       str(data.get("pid_start", "")), str(data.get("started", "")),
                       str(data.get("playbook", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"missing or malformed field {exc}") from exc

    def alive(self) -> bool | None:
        """True or False on this controller; None when the holder ran on another machine."""
        if self.controller != socket.gethostname():
            return None
        return bool(self.pid_start) and pid_start(self.pid) == self.pid_start

    def describe(self) -> str:
        what = f" ({self.playbook})" if self.playbook else ""
        return (f"run {self.run_id} on {self.controller}, pid {self.pid}, "
                f"started {self.started}{what}")


class LockError(Exception):
    """The lock cannot be taken; `holder` is who has it (None when its record is unreadable)."""

    def __init__(self, path: Path, holder: Holder | None, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.holder = holder


def _read_holder(handle: IO[str]) -> tuple[bool, Holder | None]:
    """(whether the file names a holder, the holder if its record parses)."""
    handle.seek(0)
    text = handle.read().strip()
    if not text:
        return False, None
    try:
        return True, Holder.from_mapping(json.loads(text))
    except ValueError:
        return True, None


def inspect(path: Path) -> tuple[str, Holder | None]:
    """('free' | 'held' | 'stale', holder) without taking the lock for longer than the look."""
    if not path.exists():
        return "free", None
    with path.open("r", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return "held", _read_holder(handle)[1]
        named, holder = _read_holder(handle)
        return ("stale" if named else "free"), holder


class RolloutLock:
    """Held for the life of one `colostack rollout`; `with RolloutLock(path, holder): ...`."""

    def __init__(self, path: Path, holder: Holder, take_over: bool = False) -> None:
        self.path = path
        self.holder = holder
        self.take_over = take_over
        self.taken_over: Holder | None = None
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        handle = os.fdopen(fd, "r+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(handle)[1]
            handle.close()
            who = holder.describe() if holder else "a process whose record is unreadable"
            message = f"another rollout holds {self.path}: {who}"
            raise LockError(self.path, holder, message) from None
        named, stale = _read_holder(handle)
        if named and not self.take_over:
            handle.close()
            who = stale.describe() if stale else "an unreadable record"
            raise LockError(self.path, stale, f"stale rollout lock {self.path} left by {who}, "
                            "which is no longer running; check its hosts, then take it over "
                            "explicitly (--take-over)")
        self.taken_over = stale
        self._write(handle, json.dumps(asdict(self.holder), sort_keys=True) + "\n")
        self._handle = handle

    def release(self) -> None:
        if self._handle is None:
            return
        self._write(self._handle, "")
        self._handle.close()  # closing drops the flock
        self._handle = None

    @staticmethod
    def _write(handle: IO[str], text: str) -> None:
        # In place, not by rename: the flock belongs to this inode.
        handle.seek(0)
        handle.truncate()
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())

    def __enter__(self) -> RolloutLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
