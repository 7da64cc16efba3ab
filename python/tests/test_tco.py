"""colostack tco against hand-computed cases, including the seed's public case."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from colostack.cli import main
from colostack.tco.model import (
    Approach,
    TcoConfigError,
    break_even_month,
    defaults,
    evaluate,
    merge,
)


def test_public_case_pays_back_inside_a_year() -> None:
    """$3.2M a year before, $1.3M a year after, $700-800k capital."""
    before = Approach("before", 0, 3_200_000 / 12)
    # Saving 1.9M/12 = 158,333.33 a month: 700k/158,333 = 4.42, 750k -> 4.74, 800k -> 5.05.
    assert break_even_month(Approach("after", 700_000, 1_300_000 / 12), before) == 5
    assert break_even_month(Approach("after", 750_000, 1_300_000 / 12), before) == 5
    assert break_even_month(Approach("after", 800_000, 1_300_000 / 12), before) == 6
    after = Approach("after", 800_000, 1_300_000 / 12)
    assert after.cumulative(12) == pytest.approx(2_100_000)
    assert before.cumulative(12) == pytest.approx(3_200_000)


def test_break_even_edge_cases() -> None:
    base = Approach("b", 0, 100)
    assert break_even_month(Approach("cheaper", 0, 50), base) == 0
    assert break_even_month(Approach("dearer", 0, 150), base) is None
    assert break_even_month(Approach("capex", 1000, 100), base) is None
    assert break_even_month(Approach("exact", 500, 50), base) == 10


def test_defaults_match_the_hand_computation() -> None:
    r = evaluate(defaults())
    busy = 6 * 365 / 12                                    # 182.5 h a month
    assert r.caps_w == (350,) * 8                          # (4000 - 1200) / 8
    assert r.node_power_w == 4000
    assert r.by_name("cloud").monthly == pytest.approx(8 * 3200 + 500 * 0.33)   # 25,765
    assert r.by_name("api").monthly == pytest.approx(8 * busy * 3.6 * 2.0 + 165)  # 10,677
    kwh = (busy * 4000 + (730 - busy) * 1500) / 1000       # 1,551.25 kWh
    running = 2500 + kwh * 0.15 * 1.35                     # 2,814.13
    own = r.by_name("self_hosted")
    assert own.capex == 300_000
    assert own.monthly == pytest.approx(running + 50)      # 2,864.13
    hybrid = r.by_name("hybrid")
    assert hybrid.capex == 150_000
    assert hybrid.monthly == pytest.approx(running / 2 + 4 * 3200 + 50)
    # 300,000 / (25,765 - 2,864.13) = 13.1 -> month 14; hybrid 150,000 / 11,507.9 = 13.03 -> 14
    assert r.break_even() == {"api": 0, "self_hosted": 14, "hybrid": 14}


def test_lower_power_cap_lowers_the_owned_running_cost() -> None:
    low = evaluate(merge(defaults(), {"self_hosted": {"power_budget_w": 3200}}))
    assert low.caps_w == (250,) * 8
    assert (low.by_name("self_hosted").monthly
            < evaluate(defaults()).by_name("self_hosted").monthly)


def test_hourly_cloud_billing_at_few_hours_never_breaks_even() -> None:
    r = evaluate(merge(defaults(), {"hours_per_day": 2, "cloud": {"billing": "hourly"}}))
    assert r.by_name("cloud").monthly == pytest.approx(8 * 3200 * (2 * 365 / 12) / 730 + 165)
    assert r.break_even()["self_hosted"] is None


@pytest.mark.parametrize(("override", "message"), [
    ({"cloud": {"per_gpu_month": -1}}, "cloud.per_gpu_month must be a non-negative"),
    ({"self_hosted": {"pue": 0.9}}, "pue must be at least 1"),
    ({"gpu": 8}, "unknown TCO setting 'gpu'"),
    ({"cloud": {"billing": "weekly"}}, "cloud.billing"),
])
def test_bad_config_names_the_setting(override: dict[str, object], message: str) -> None:
    with pytest.raises(TcoConfigError, match=message):
        evaluate(merge(defaults(), override))


def test_cli_prints_break_even_and_writes_the_plot(tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "tco.yml"
    cfg.write_text(yaml.safe_dump({"self_hosted": {"node_price": 250_000}}))
    png = tmp_path / "tco.png"
    assert main(["tco", "--config", str(cfg), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    # 250,000 / 22,900.87 = 10.9 -> month 11: inside the seed's 12 months.
    assert "self_hosted" in out and "month 11" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
