"""Turn a month of usage into money with the rate card from inventory."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from colostack.cost.usage import MonthUsage, Usage, totals


class ChargebackError(ValueError):
    """Bad rate card or no data; the message names the value at fault."""


@dataclass(frozen=True)
class RateCard:
    currency: str
    hardware_per_gpu_hour: float     # amortised purchase price per GPU-hour
    power_per_kwh: float             # utility price per kWh at the meter
    pue: float                       # power, UPS and cooling overhead multiplier (>= 1)
    colo_rent_per_month: float       # whole cage, shared by GPU-hours
    storage_per_gb_month: float

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> RateCard:
        raw = raw.get("cost_agent_rate_card", raw)  # accept the inventory file itself
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in raw:
                raise ChargebackError(f"rate card: {f.name} is missing")
            if f.name == "currency":
                values[f.name] = str(raw[f.name])
                continue
            value = raw[f.name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ChargebackError(f"rate card: {f.name} must be a number, got {value!r}")
            if value < 0:
                raise ChargebackError(f"rate card: {f.name} is negative ({value})")
            values[f.name] = float(value)
        if values["pue"] < 1:
            raise ChargebackError(f"rate card: pue must be at least 1, got {values['pue']}")
        return cls(**values)

    @classmethod
    def load(cls, path: Path) -> RateCard:
        return cls.from_mapping(yaml.safe_load(path.read_text()) or {})


@dataclass(frozen=True)
class Line:
    service: str
    gpu_hours: float
    gpu_kwh: float
    storage_gb_month: float
    hardware: float
    power: float
    rent: float
    storage: float

    @property
    def total(self) -> float:
        return self.hardware + self.power + self.rent + self.storage


@dataclass(frozen=True)
class Bill:
    month: str
    currency: str
    lines: list[Line]
    gpu_hours_by_day: dict[str, dict[str, float]]   # day -> service -> GPU-hours

    @property
    def total(self) -> float:
        return sum(line.total for line in self.lines)


def compute(usage: MonthUsage, card: RateCard) -> Bill:
    """Rent is shared in proportion to GPU-hours (idle included, so it is fully recovered);
    storage GB-days become GB-months over the days of the month."""
    per_service = totals(usage)
    if not per_service:
        raise ChargebackError(f"no usage recorded for {usage.month}")
    year, mon = (int(x) for x in usage.month.split("-"))
    days_in_month = calendar.monthrange(year, mon)[1]
    all_hours = sum(u.gpu_seconds for u in per_service.values()) / 3600.0
    lines = []
    for service, u in sorted(per_service.items()):
        hours = u.gpu_seconds / 3600.0
        gb_month = u.storage_gb_days / days_in_month
        lines.append(Line(
            service=service, gpu_hours=hours, gpu_kwh=u.gpu_kwh, storage_gb_month=gb_month,
            hardware=hours * card.hardware_per_gpu_hour,
            power=u.gpu_kwh * card.power_per_kwh * card.pue,
            rent=card.colo_rent_per_month * hours / all_hours if all_hours else 0.0,
            storage=gb_month * card.storage_per_gb_month,
        ))
    by_day: dict[str, dict[str, float]] = {}
    for service, days in usage.days.items():
        for day, du in days.items():
            by_day.setdefault(day, {})[service] = du.gpu_seconds / 3600.0
    return Bill(usage.month, card.currency, lines, dict(sorted(by_day.items())))


def synthetic_usage(month: str, per_day: Mapping[str, Usage], days: int) -> MonthUsage:
    """The same day totals on each of the first `days` days (for samples and tests)."""
    out = MonthUsage(month)
    for service, u in per_day.items():
        out.days[service] = {f"{month}-{d:02d}": Usage(u.gpu_seconds, u.gpu_kwh,
                                                        u.storage_gb_days)
                             for d in range(1, days + 1)}
    return out
