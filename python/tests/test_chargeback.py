"""colostack chargeback: exact costs from synthetic day totals in a real Redis, the CSV/JSON/HTML
outputs, the HTML opened in headless Chromium, and clear errors for bad input."""

from __future__ import annotations

import csv
import itertools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from redisproc import redis_server

from colostack.cli import main
from colostack.cost import report
from colostack.cost import usage as store
from colostack.cost.chargeback import Bill, ChargebackError, RateCard, compute, synthetic_usage
from colostack.cost.usage import Usage

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".artifacts"
CARD = {"currency": "USD", "hardware_per_gpu_hour": 1.5, "power_per_kwh": 0.20, "pue": 1.35,
        "colo_rent_per_month": 3000, "storage_per_gb_month": 0.10}
# Synthetic day totals, the same on 2026-11-01..10.
DAY = {"chat-api": Usage(36_000, 5.0, 100.0), "search": Usage(18_000, 2.0, 500.0),
       "idle": Usage(18_000, 0.5, 0.0)}
# By hand, over 10 days of a 30-day month (GPU-hours 100/50/50, total 200):
#   chat-api: hw 100*1.5=150, power 50*0.2*1.35=13.5, rent 3000*100/200=1500,
#             storage 1000/30*0.1=3.3333        -> 1666.8333
#   search:   75, 20*0.27=5.4, 750, 5000/30*0.1=16.6667 -> 847.0667
#   idle:     75, 5*0.27=1.35, 750, 0            -> 826.35
EXPECTED = {"chat-api": 1666.8333, "search": 847.0667, "idle": 826.35}
EXPECTED_TOTAL = 3340.25


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        client = redis.Redis.from_url(url)
        for day in range(1, 11):
            store.write(client, f"2026-11-{day:02d}", DAY, expire_s=86400)
        store.write(client, "2026-10-31", {"chat-api": Usage(99_999, 9, 9)}, expire_s=86400)
        yield url


def test_costs_match_the_hand_computed_values() -> None:
    bill = compute(synthetic_usage("2026-11", DAY, 10), RateCard.from_mapping(CARD))
    got = {line.service: line for line in bill.lines}
    for service, total in EXPECTED.items():
        assert got[service].total == pytest.approx(total, abs=1e-4)
    assert got["chat-api"].power == pytest.approx(13.5)
    assert got["search"].rent == pytest.approx(750.0)
    assert got["chat-api"].storage_gb_month == pytest.approx(1000 / 30)
    assert bill.total == pytest.approx(EXPECTED_TOTAL)
    assert bill.gpu_hours_by_day["2026-11-03"] == {"chat-api": 10.0, "search": 5.0, "idle": 5.0}


def test_redis_month_read_sums_only_that_month(redis_url: str) -> None:
    month = store.read_month(redis.Redis.from_url(redis_url), "2026-11")
    totals = store.totals(month)
    assert totals["chat-api"].gpu_seconds == pytest.approx(360_000)
    assert set(month.days["chat-api"]) == {f"2026-11-{d:02d}" for d in range(1, 11)}


@pytest.mark.parametrize("field", ["hardware_per_gpu_hour", "power_per_kwh",
                                   "colo_rent_per_month", "storage_per_gb_month"])
def test_a_negative_price_is_rejected_by_name(field: str) -> None:
    with pytest.raises(ChargebackError, match=f"{field} is negative"):
        RateCard.from_mapping({**CARD, field: -0.01})


def test_rate_card_is_read_from_the_inventory_file() -> None:
    card = RateCard.load(REPO / "inventories/colo/group_vars/gpu_nodes/cost_agent.yml")
    assert card.pue >= 1 and card.hardware_per_gpu_hour > 0


def _card_file(tmp_path: Path, **over: object) -> Path:
    path = tmp_path / "card.yml"
    path.write_text(yaml.safe_dump({"cost_agent_rate_card": {**CARD, **over}}))
    return path


def test_a_month_with_no_data_fails_clearly(redis_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["chargeback", "--month", "2026-12", "--rate-card", str(_card_file(tmp_path)),
                 "--redis-url", redis_url, "--out", str(tmp_path)])
    assert code == 2
    assert "no usage recorded for 2026-12" in capsys.readouterr().err
    assert not list(tmp_path.glob("chargeback-*"))


def test_a_negative_price_fails_the_command(redis_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["chargeback", "--month", "2026-11", "--redis-url", redis_url,
                 "--rate-card", str(_card_file(tmp_path, power_per_kwh=-1)),
                 "--out", str(tmp_path)])
    assert code == 2
    assert "power_per_kwh is negative (-1" in capsys.readouterr().err


def _chromium() -> str:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not installed (apt-get install chromium)")
    return exe


def test_report_files_and_html_in_headless_chromium(redis_url: str, tmp_path: Path) -> None:
    assert main(["chargeback", "--month", "2026-11", "--rate-card", str(_card_file(tmp_path)),
                 "--redis-url", redis_url, "--out", str(tmp_path)]) == 0
    with (tmp_path / "chargeback-2026-11.csv").open() as fh:
        rows = {r["service"]: r for r in csv.DictReader(fh)}
    assert {s: float(r["total"]) for s, r in rows.items()} == pytest.approx(EXPECTED, abs=0.01)
    doc = json.loads((tmp_path / "chargeback-2026-11.json").read_text())
    assert doc["total"] == EXPECTED_TOTAL

    html = tmp_path / "chargeback-2026-11.html"
    assert "http" not in re.sub(r'src="data:image/png;base64,[^"]+"', "", html.read_text()), \
        "the report must be self-contained"
    profile = tmp_path / "chromium-profile"
    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--no-first-run",
             f"--user-data-dir={profile}"]
    dom = subprocess.run([*flags, "--dump-dom", html.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert f'<strong id="total">{EXPECTED_TOTAL:.2f}</strong>' in dom
    for service, total in EXPECTED.items():
        assert re.search(rf'data-service="{service}">.*?<td>{total:.2f}</td></tr>', dom)
    assert dom.count('src="data:image/png;base64,') == 2
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "chargeback-report.png"
    shot.unlink(missing_ok=True)
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1000,1500", html.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000


def _month_bill() -> Bill:
    """Every day of a 30-day month, four services: the case whose day labels used to overlap."""
    day = {**DAY, "batch-embeddings": Usage(7_200, 1.0, 10.0)}
    return compute(synthetic_usage("2026-11", day, 30), RateCard.from_mapping(CARD))


def _bar_colours(fig: Figure) -> dict[str, set[str]]:
    """Colour of every bar, by the service it belongs to (its y label or its legend entry)."""
    ax = fig.axes[0]
    found: dict[str, set[str]] = {}
    for container in ax.containers:
        assert isinstance(container, BarContainer)
        label = str(container.get_label())
        services = ([t.get_text() for t in ax.get_yticklabels()] if label.startswith("_")
                    else [label] * len(container.patches))
        for service, bar in zip(services, container.patches, strict=True):
            found.setdefault(service, set()).add(to_hex(bar.get_facecolor()))
    return found


def test_charts_give_each_service_one_colour_in_both_charts() -> None:
    bill = _month_bill()
    colours = report.service_colours(bill)
    assert len(set(colours.values())) == len(bill.lines) == 4
    cost = report.cost_figure(bill, colours)
    cost.canvas.draw()  # tick labels exist once drawn
    for fig in (cost, report.hours_figure(bill, colours)):
        assert _bar_colours(fig) == {s: {c} for s, c in colours.items()}


def test_daily_chart_day_labels_do_not_overlap() -> None:
    fig = report.hours_figure(_month_bill(), report.service_colours(_month_bill()))
    fig.canvas.draw()
    ax = fig.axes[0]
    boxes = [t.get_window_extent() for t in ax.get_xticklabels() if t.get_text()]
    assert len(boxes) >= 6  # day 1 and every fifth day
    assert all(a.x1 < b.x0 for a, b in itertools.pairwise(boxes))
