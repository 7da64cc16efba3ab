"""colostack profile: statistics on hand-built samples, the JSONL and Redis stores, replay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redisproc import redis_server

from colostack.cli import main
from colostack.profile import samples as store
from colostack.profile.analysis import Thresholds, analyse, percentile
from colostack.profile.samples import Sample

REPO = Path(__file__).resolve().parents[2]
RECORDING = REPO / "tests/data/profile/synthetic-2gpu-7d.jsonl"
HOUR = 3600.0


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([10, 20, 30, 40, 50], 50) == 30
    assert percentile([10, 20, 30, 40, 50], 95) == pytest.approx(48.0)
    with pytest.raises(ValueError):
        percentile([], 50)


def _day(utils: list[float], gpu: int = 0, mem: float = 40.0) -> list[Sample]:
    """One sample per hour over one day (24 samples)."""
    return [Sample(i * HOUR, gpu, u, mem, 80.0, 100.0 + u, int(i * 1e6)) for i, u in
            enumerate(utils)]


def test_busy_hours_cv_and_sizing_on_a_hand_built_day() -> None:
    # 8 hours at 90%, 16 hours at 10%: busy 8 h/day at the 50% threshold.
    s = _day([90.0] * 8 + [10.0] * 16)
    p = analyse(s)
    g = p.gpus[0]
    assert g.busy_hours_per_day == pytest.approx(8.0)
    assert g.util_p50 == 10.0
    assert g.util_p95 == 90.0
    mean = (8 * 90 + 16 * 10) / 24
    assert g.util_mean == pytest.approx(mean)
    var = (8 * (90 - mean) ** 2 + 16 * (10 - mean) ** 2) / 24
    assert g.util_variance == pytest.approx(var)
    assert g.util_cv == pytest.approx(var**0.5 / mean)
    assert g.energy_kwh == pytest.approx(23e6 / 3.6e9)
    # Demand p95 0.9 GPUs; +20% = 1.08 -> 2 GPUs.
    assert p.demand_p95_gpus == pytest.approx(0.9)
    assert p.suggested_gpus == 2
    assert not p.steady  # CV ~1.06 is bursty
    assert any("bursty" in r for r in p.reasons)


def test_steady_load_is_judged_worth_owning_and_sizes_with_headroom() -> None:
    s = _day([80.0] * 24) + _day([80.0] * 24, gpu=1, mem=76.0)
    p = analyse(s, Thresholds(busy_util_pct=50))
    assert p.steady
    assert p.demand_p95_gpus == pytest.approx(1.6)
    assert p.suggested_gpus == 2          # ceil(1.6 * 1.2 = 1.92)
    assert p.mem_p95_gib == pytest.approx(116 / 1024)
    assert p.gpus[1].mem_saturated_frac_of_time == pytest.approx(1.0)  # 76/80 >= 0.9
    assert p.gpus[0].mem_saturated_frac_of_time == 0.0


def test_idle_load_is_not_worth_owning() -> None:
    p = analyse(_day([5.0] * 24))
    assert not p.steady
    assert p.gpus[0].busy_hours_per_day == 0.0
    assert any("under 6 h/day" in r for r in p.reasons)


def test_jsonl_round_trip_and_synthetic_label_required(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    store.write_header(path, "h1", synthetic=True, source="test")
    batch = _day([50.0] * 3)
    store.append_jsonl(path, batch)
    rec = store.read_jsonl(path)
    assert rec.synthetic is True
    assert rec.samples == batch
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format":"colostack-profile/1"}\n')
    with pytest.raises(ValueError, match="synthetic"):
        store.read_jsonl(bad)


def test_redis_stream_round_trip_is_capped(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    batch = _day([float(i) for i in range(24)])
    store.append_redis(client, "node-a", batch, maxlen=10_000)
    assert list(store.read_redis(client, "node-a")) == batch


def test_replay_of_the_committed_recording_says_synthetic_and_gives_a_verdict(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--replay", str(RECORDING)]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out
    assert "steady enough to own? no" in out   # GPU 1's nightly batch is bursty
    assert "-> 2 GPUs" in out


def test_replay_from_redis(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    client = redis.Redis.from_url(redis_url)
    store.append_redis(client, "node-b", store.read_jsonl(RECORDING).samples, maxlen=100_000)
    assert main(["profile", "--replay-redis", redis_url, "--host", "node-b", "--json"]) == 0
    assert '"suggested_gpus": 2' in capsys.readouterr().out
