"""Parse a window definition from inventory data into a dateutil rrule plus a length."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil import rrule

from colostack.errors import UserError

# Without DTSTART the rule is anchored here (local wall time, a Monday at midnight), so that
# INTERVAL and defaults taken from DTSTART (minute, second, weekday) are stable.
_ANCHOR = datetime(2024, 1, 1)
_DAYS = {
    "mon": rrule.MO, "tue": rrule.TU, "wed": rrule.WE, "thu": rrule.TH,
    "fri": rrule.FR, "sat": rrule.SA, "sun": rrule.SU,
}
_DURATION = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
_START = re.compile(r"^(?:(?P<days>[A-Za-z,]+)\s+)?(?P<h>\d{1,2}):(?P<m>\d{2})$")


class WindowSpecError(ValueError, UserError):
    """A window definition that cannot be parsed; the message names the bad field."""


def parse_duration(text: str) -> timedelta:
    """Parse "4h", "45m", "1h30m", "2d" or a number of seconds."""
    value = str(text).strip().lower().replace(" ", "")
    match = _DURATION.match(value)
    if not value.isascii() or not value or (match is None and not value.isdigit()):
        raise WindowSpecError(f"duration {text!r}: expected e.g. '4h', '45m' or '1h30m'")
    try:
        if value.isdigit():
            return timedelta(seconds=int(value))
        assert match is not None
        parts = {k: int(v) for k, v in match.groupdict(default="0").items()}
        return timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"],
                         seconds=parts["s"])
    except OverflowError:
        raise WindowSpecError(f"duration {text!r}: too long") from None


def flatcar_rule(start: str) -> rrule.rrule:
    """Flatcar/locksmith style: "Sat 02:00", "Sat,Sun 23:30" or "02:00" (every day)."""
    match = _START.match(start.strip())
    if match is None:
        raise WindowSpecError(f"start {start!r}: expected e.g. 'Sat 02:00' or '02:00'")
    hour, minute = int(match["h"]), int(match["m"])
    if hour > 23 or minute > 59:
        raise WindowSpecError(f"start {start!r}: time of day out of range")
    if match["days"] is None:
        return rrule.rrule(rrule.DAILY, dtstart=_ANCHOR, byhour=hour, byminute=minute, bysecond=0)
    try:
        days = [_DAYS[d.strip().lower()[:3]] for d in match["days"].split(",")]
    except KeyError as exc:
        raise WindowSpecError(f"start {start!r}: unknown day {exc.args[0]!r}") from exc
    return rrule.rrule(
        rrule.WEEKLY, dtstart=_ANCHOR, byweekday=days, byhour=hour, byminute=minute, bysecond=0
    )


def rfc5545_rule(text: str) -> rrule.rrule:
    try:
        rule = rrule.rrulestr(text.strip(), dtstart=_ANCHOR, forceset=False)
    except (ValueError, TypeError) as exc:
        raise WindowSpecError(f"rrule {text!r}: {exc}") from exc
    if not isinstance(rule, rrule.rrule):
        raise WindowSpecError(f"rrule {text!r}: expected a single RRULE")
    return rule


@dataclass(frozen=True)
class WindowSpec:
    """One recurring window: occurrences of `rule` in local wall time, each `duration` long.

    The length is elapsed time (as with systemd's RuntimeMaxSec), so on a DST change the window
    still lasts exactly `duration`. A start inside a spring-forward gap moves forward by the gap;
    an ambiguous start on fall-back day is the first of the two instants.
    """

    rule: rrule.rrule
    duration: timedelta
    tz: ZoneInfo
    source: str

    @classmethod
    def from_mapping(cls, data: object) -> WindowSpec:
        """Build from inventory data: {start|rrule, duration, timezone} (windows.schema)."""
        from colostack.windows.schema import parse_window  # noqa: PLC0415 (it builds on this module)

        return parse_window(data)
