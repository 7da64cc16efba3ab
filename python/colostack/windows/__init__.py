"""Maintenance windows: a start rule plus a length in an IANA time zone, and host admission."""

from colostack.windows.schedule import Admission, Window, admit, next_windows, window_at
from colostack.windows.spec import WindowSpec, WindowSpecError, parse_duration

__all__ = [
    "Admission",
    "Window",
    "WindowSpec",
    "WindowSpecError",
    "admit",
    "next_windows",
    "parse_duration",
    "window_at",
]
