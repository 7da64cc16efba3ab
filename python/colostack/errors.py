"""The error contract of every colostack command: what the user can fix, and how it is said.

A UserError (a bad option value, a missing or malformed file, an unreachable service) is
printed as one line naming the input, and the command exits 2. Commands with their own exit
codes (validate: 1 unhealthy; window check: 1 refused, 3 forced; rollout: 1 halted, 3
cancelled, 4 refused) never use 2 for anything else.
"""

from __future__ import annotations

EXIT_USER_ERROR = 2
_MAX_SHOWN = 80


class UserError(Exception):
    """Input the user can fix; the message names the input and the value at fault."""


def one_line(text: str) -> str:
    """Collapse whitespace and newlines so that a message is exactly one line."""
    return " ".join(text.split())


def shown(value: object) -> str:
    """A value as it appears in a message: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def describe(exc: BaseException) -> str | None:
    """The one-line message for an error the user can fix, or None for a bug."""
    if isinstance(exc, UserError):
        return one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = exc.strerror or type(exc).__name__
        return one_line(f"{exc.filename}: {reason}")
    return None
