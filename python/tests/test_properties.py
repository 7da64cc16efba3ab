"""Property-based tests (hypothesis) of the loaders and parsers that take user input: whatever
they are given, they either return a valid value or raise the one-line UserError, never
another exception; and a recording holding an out-of-range reading is never replayed."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from colostack.cost.chargeback import RateCard
from colostack.errors import UserError
from colostack.tco.model import defaults, evaluate, load_override, merge
from colostack.validate.readings import ReplayReadings, SourceError
from colostack.validate.recording import MAX_CELSIUS, MAX_HBM_GBPS, MIN_CELSIUS
from colostack.windows import WindowSpec, parse_duration

HEALTHY = (Path(__file__).resolve().parents[2] / "tests" / "data" / "validate"
           / "h100-sxm-healthy.synthetic.json")
BASE: dict[str, Any] = json.loads(HEALTHY.read_text())
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                           max_leaves=8)
FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _with(key: str, value: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(BASE))
    data["gpus"][0][key] = value
    return data


def _one_line_error(exc: UserError) -> None:
    assert str(exc) and "\n" not in str(exc)


@FAST
@given(st.sampled_from(sorted(BASE["gpus"][0])), json_values)
def test_recording_loader_accepts_or_refuses_in_one_line(key: str, value: Any) -> None:
    try:
        ReplayReadings(_with(key, value))
    except SourceError as exc:
        _one_line_error(exc)


@FAST
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_temperature_outside_physical_bounds_or_non_finite_is_refused(temp: float) -> None:
    plausible = math.isfinite(temp) and MIN_CELSIUS <= temp <= MAX_CELSIUS
    try:
        ReplayReadings(_with("temp.gpu", temp))
        accepted = True
    except SourceError:
        accepted = False
    assert accepted == plausible


@FAST
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=5))
def test_bandwidth_samples_are_replayed_only_when_all_are_plausible(samples: list[float]) -> None:
    plausible = all(math.isfinite(x) and 0 <= x <= MAX_HBM_GBPS for x in samples)
    try:
        ReplayReadings(_with("load.bandwidth_gbps", samples))
        accepted = True
    except SourceError:
        accepted = False
    assert accepted == plausible


@FAST
@given(st.integers())
def test_negative_ecc_counters_are_refused(count: int) -> None:
    try:
        ReplayReadings(_with("ecc.volatile.dram.uncorrected", count))
        accepted = True
    except SourceError:
        accepted = False
    assert accepted == (count >= 0)


@FAST
@given(st.binary(max_size=64))
def test_recording_file_of_any_bytes_is_one_line_or_a_recording(tmp_path: Path,
                                                               blob: bytes) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(blob)
    try:
        ReplayReadings.load(path)
    except SourceError as exc:
        _one_line_error(exc)


@FAST
@given(st.text(max_size=12))
def test_duration_parser_returns_a_length_or_a_user_error(text: str) -> None:
    try:
        length = parse_duration(text)
    except UserError as exc:
        _one_line_error(exc)
        return
    assert length >= timedelta(0)


@FAST
@given(st.integers(0, 6), st.integers(0, 23), st.integers(0, 59), st.integers(1, 24 * 60))
def test_window_round_trips_start_and_length(day: int, hour: int, minute: int,
                                             length_m: int) -> None:
    name = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day]
    spec = WindowSpec.from_mapping({"start": f"{name} {hour:02d}:{minute:02d}",
                                    "duration": f"{length_m}m", "timezone": "Europe/Berlin"})
    assert spec.duration == timedelta(minutes=length_m)


@FAST
@given(st.dictionaries(st.sampled_from(["start", "rrule", "duration", "timezone", "zone"]),
                       json_values, max_size=4))
def test_window_parser_accepts_or_refuses_in_one_line(data: dict[str, Any]) -> None:
    try:
        WindowSpec.from_mapping(data)
    except UserError as exc:
        _one_line_error(exc)


@FAST
@given(st.dictionaries(st.sampled_from(sorted(defaults())), json_values, max_size=3))
def test_tco_config_accepts_or_refuses_in_one_line(tmp_path: Path, data: dict[str, Any]) -> None:
    path = tmp_path / "tco.json"
    path.write_text(json.dumps(data))  # JSON is YAML
    try:
        result = evaluate(merge(defaults(), load_override(path)))
    except UserError as exc:
        _one_line_error(exc)
        return
    for approach in result.approaches:
        assert math.isfinite(approach.capex) and math.isfinite(approach.monthly)


CARD = {"currency": "USD", "hardware_per_gpu_hour": 1.5, "power_per_kwh": 0.2, "pue": 1.35,
        "colo_rent_per_month": 5000, "storage_per_gb_month": 0.1}


@FAST
@given(st.sampled_from(sorted(CARD)), json_values)
def test_rate_card_accepts_only_finite_non_negative_prices(field: str, value: Any) -> None:
    try:
        card = RateCard.from_mapping({**CARD, field: value})
    except UserError as exc:
        _one_line_error(exc)
        return
    for name, price in vars(card).items():
        if name != "currency":
            assert math.isfinite(price) and price >= (1 if name == "pue" else 0)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.01])
def test_rate_card_refuses_nan_infinity_and_negative(value: float) -> None:
    with pytest.raises(UserError, match="power_per_kwh"):
        RateCard.from_mapping({**CARD, "power_per_kwh": value})
