"""Window occurrences and the admission rule: admit only if now + expected <= window end."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from colostack.windows.spec import WindowSpec


@dataclass(frozen=True)
class Window:
    """One occurrence: [start, end) as aware datetimes in the window's zone."""

    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class Admission:
    """The answer to "may work of this length start now?" with the values that explain it."""

    admitted: bool
    reason: str
    now: datetime
    expected: timedelta
    current: Window | None
    next_start: datetime | None


def _resolve(spec: WindowSpec, wall: datetime) -> datetime:
    """Local wall time -> real instant; a round trip through UTC normalises DST gaps."""
    return wall.replace(tzinfo=spec.tz).astimezone(UTC).astimezone(spec.tz)


def _occurrences(spec: WindowSpec, after: datetime) -> Iterator[Window]:
    """Windows in start order whose end is later than `after` (aware)."""
    # Start the search one window length (plus a day of DST slack) earlier, in wall time.
    wall = (after.astimezone(spec.tz) - spec.duration - timedelta(days=1)).replace(tzinfo=None)
    for occurrence in spec.rule.xafter(wall, inc=True):
        start = _resolve(spec, occurrence)
        window = Window(start, (start.astimezone(UTC) + spec.duration).astimezone(spec.tz))
        if window.end > after:
            yield window


def window_at(spec: WindowSpec, now: datetime) -> Window | None:
    """The window that contains `now`, if any (the latest-ending one when windows overlap)."""
    found = None
    for window in _occurrences(spec, now):
        if window.start > now:
            break
        if window.contains(now):
            found = window
    return found


def next_windows(spec: WindowSpec, now: datetime, count: int = 3) -> list[Window]:
    """The next `count` windows starting at or after `now`."""
    result: list[Window] = []
    for window in _occurrences(spec, now):
        if window.start >= now:
            result.append(window)
            if len(result) == count:
                break
    return result


def admit(spec: WindowSpec, now: datetime, expected: timedelta) -> Admission:
    """Admit work of length `expected` only if it ends by the end of the current window."""
    current = window_at(spec, now)
    upcoming = next_windows(spec, now, 1)
    next_start = upcoming[0].start if upcoming else None
    if expected > spec.duration:
        reason = f"expected duration {expected} exceeds the window length {spec.duration}"
        return Admission(False, reason, now, expected, current, None)
    if current is None:
        reason = "outside the maintenance window"
        return Admission(False, reason, now, expected, None, next_start)
    if now + expected > current.end:
        finish = (now + expected).astimezone(spec.tz)
        reason = (
            f"too late in the window: work would end {finish:%H:%M %Z},"
            f" after {current.end:%H:%M %Z}"
        )
        return Admission(False, reason, now, expected, current, next_start)
    return Admission(True, "inside the maintenance window", now, expected, current, next_start)
