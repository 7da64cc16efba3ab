"""Maintenance windows: DST changes, windows crossing midnight and the admission rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from colostack.windows import WindowSpec, WindowSpecError, admit, next_windows, window_at

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def spec(**kw: str) -> WindowSpec:
    return WindowSpec.from_mapping(kw)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_flatcar_and_rrule_forms_give_the_same_windows() -> None:
    now = utc(2026, 6, 1)
    flatcar = spec(start="Sat 02:00", duration="4h", timezone="Europe/Berlin")
    rfc = spec(rrule="FREQ=WEEKLY;BYDAY=SA;BYHOUR=2", duration="4h", timezone="Europe/Berlin")
    assert next_windows(flatcar, now, 5) == next_windows(rfc, now, 5)
    first = next_windows(flatcar, now, 1)[0]
    assert first.start == datetime(2026, 6, 6, 2, 0, tzinfo=BERLIN)
    assert first.end - first.start == timedelta(hours=4)


def test_berlin_spring_forward_window_keeps_its_elapsed_length() -> None:
    # 2026-03-29: clocks jump 02:00 CET -> 03:00 CEST.
    window = spec(start="Sun 01:00", duration="4h", timezone="Europe/Berlin")
    current = window_at(window, utc(2026, 3, 29, 3, 30))
    assert current is not None
    assert current.start.astimezone(UTC) == utc(2026, 3, 29, 0, 0)  # 01:00 CET
    assert current.end.astimezone(UTC) == utc(2026, 3, 29, 4, 0)  # 06:00 CEST
    assert current.end.strftime("%H:%M %Z") == "06:00 CEST"
    assert admit(window, utc(2026, 3, 29, 3, 30), timedelta(minutes=30)).admitted
    assert not admit(window, utc(2026, 3, 29, 3, 50), timedelta(minutes=15)).admitted


def test_berlin_start_inside_the_spring_forward_gap_moves_to_the_jump() -> None:
    window = spec(start="Sun 02:00", duration="2h", timezone="Europe/Berlin")
    first = next_windows(window, utc(2026, 3, 28), 1)[0]
    assert first.start.astimezone(UTC) == utc(2026, 3, 29, 1, 0)  # 03:00 CEST, the jump
    assert first.start.strftime("%H:%M %Z") == "03:00 CEST"
    assert first.end.astimezone(UTC) == utc(2026, 3, 29, 3, 0)


def test_berlin_fall_back_uses_the_first_ambiguous_start_once() -> None:
    # 2026-10-25: clocks fall back 03:00 CEST -> 02:00 CET; 02:30 happens twice.
    window = spec(start="Sun 02:00", duration="2h", timezone="Europe/Berlin")
    starts = [w.start.astimezone(UTC) for w in next_windows(window, utc(2026, 10, 24), 2)]
    assert starts == [utc(2026, 10, 25, 0, 0), utc(2026, 11, 1, 1, 0)]
    second_0230 = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN)  # 01:30 UTC, CET
    assert window_at(window, second_0230) is not None
    assert window_at(window, datetime(2026, 10, 25, 3, 0, tzinfo=BERLIN)) is None  # 02:00 UTC


def test_new_york_spring_forward_daily_window_shifts_only_on_that_day() -> None:
    # 2026-03-08: 02:00 EST -> 03:00 EDT, so 02:30 does not exist that day.
    window = spec(start="02:30", duration="1h", timezone="America/New_York")
    starts = [w.start for w in next_windows(window, utc(2026, 3, 7, 12), 3)]
    assert [s.strftime("%d %H:%M %Z") for s in starts] == [
        "08 03:30 EDT", "09 02:30 EDT", "10 02:30 EDT"
    ]
    assert starts[0].astimezone(UTC) == utc(2026, 3, 8, 7, 30)


def test_new_york_fall_back_daily_window_is_one_hour_not_two() -> None:
    # 2026-11-01: 02:00 EDT -> 01:00 EST; 01:30 happens twice, the window opens once.
    window = spec(
        rrule="FREQ=DAILY;BYHOUR=1;BYMINUTE=30", duration="1h", timezone="America/New_York"
    )
    windows = next_windows(window, utc(2026, 11, 1, 0), 2)
    assert windows[0].start.astimezone(UTC) == utc(2026, 11, 1, 5, 30)
    assert windows[0].end.astimezone(UTC) == utc(2026, 11, 1, 6, 30)
    assert windows[1].start.astimezone(UTC) == utc(2026, 11, 2, 6, 30)
    assert window_at(window, datetime(2026, 11, 1, 1, 45, fold=1, tzinfo=NEW_YORK)) is None


def test_window_crossing_midnight_admits_after_midnight_until_its_end() -> None:
    window = spec(start="Sat 23:00", duration="4h", timezone="Europe/Berlin")
    sunday_0130 = datetime(2026, 6, 7, 1, 30, tzinfo=BERLIN)
    decision = admit(window, sunday_0130, timedelta(hours=1))
    assert decision.admitted
    assert decision.current is not None
    assert decision.current.start == datetime(2026, 6, 6, 23, 0, tzinfo=BERLIN)
    assert decision.current.end == datetime(2026, 6, 7, 3, 0, tzinfo=BERLIN)
    late = admit(window, sunday_0130, timedelta(hours=2))
    assert not late.admitted
    assert late.next_start == datetime(2026, 6, 13, 23, 0, tzinfo=BERLIN)


def test_admission_edges() -> None:
    window = spec(start="Sat 02:00", duration="4h", timezone="Europe/Berlin")
    start = datetime(2026, 6, 6, 2, 0, tzinfo=BERLIN)
    end = datetime(2026, 6, 6, 6, 0, tzinfo=BERLIN)
    assert admit(window, start, timedelta(hours=4)).admitted  # exactly fills the window
    assert admit(window, end - timedelta(minutes=45), timedelta(minutes=45)).admitted
    nearly_end = end - timedelta(minutes=45) + timedelta(seconds=1)
    one_late = admit(window, nearly_end, timedelta(minutes=45))
    assert not one_late.admitted
    assert "too late" in one_late.reason
    at_end = admit(window, end, timedelta(minutes=1))
    assert not at_end.admitted
    assert at_end.current is None
    assert at_end.next_start == datetime(2026, 6, 13, 2, 0, tzinfo=BERLIN)
    before = admit(window, start - timedelta(seconds=1), timedelta(minutes=1))
    assert not before.admitted
    assert before.next_start == start
    too_long = admit(window, start, timedelta(hours=5))
    assert not too_long.admitted
    assert "exceeds the window length" in too_long.reason


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"start": "Sat 02:00", "rrule": "FREQ=DAILY", "duration": "1h"}, "exactly one of"),
        ({"start": "Sat 02:00"}, "duration is required"),
        ({"start": "Sat 02:00", "duration": "4 hours"}, "duration '4 hours'"),
        ({"start": "Sat 02:00", "duration": "4h", "timezone": "Mars/Olympus"}, "IANA"),
        ({"start": "Caturday 02:00", "duration": "4h"}, "unknown day"),
        ({"start": "Sat 25:00", "duration": "4h"}, "out of range"),
        ({"rrule": "FREQ=SOMETIMES", "duration": "4h"}, "rrule"),
        ({"start": "Sat 02:00", "duration": "4h", "zone": "UTC"}, "unknown keys"),
    ],
)
def test_bad_window_definitions_are_rejected_with_the_field_named(
    data: dict[str, str], message: str
) -> None:
    with pytest.raises(WindowSpecError, match=message):
        WindowSpec.from_mapping(data)
