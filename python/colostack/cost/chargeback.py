"""Turn a month of usage into money with the rate card from inventory."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from colostack import schema
from colostack.cost.usage import MonthUsage, Usage, totals
from colostack.errors import UserError


class ChargebackError(ValueError, UserError):
    """Bad rate card or no data; the message names the value at fault."""


Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class RateCardSchema(BaseModel):
    """The rate card as the inventory writes it (cost_agent_rate_card)."""

    model_config = ConfigDict(extra="forbid", strict=False)

    currency: Annotated[str, Field(min_length=1)]
    hardware_per_gpu_hour: Price
    power_per_kwh: Price
    pue: Annotated[float, Field(ge=1, allow_inf_nan=False)]
    colo_rent_per_month: Price
    storage_per_gb_month: Price


def _reason(exc: ValidationError) -> str:
    """The first problem in the card's own words: `power_per_kwh is negative (-1)`."""
    first = exc.errors(include_url=False)[0]
    name = schema.location(tuple(first["loc"]))
    if first["type"] == "missing":
        return f"{name} is missing"
    if first["type"] == "greater_than_equal" and name != "pue":
        return f"{name} is negative ({first['input']})"
    if first["type"] == "greater_than_equal":
        return f"pue must be at least 1, got {first['input']}"
    if first["type"] in ("float_parsing", "float_type", "bool_type"):
        return f"{name} must be a number, got {first['input']!r}"
    return schema.explain(exc, "rate card").removeprefix("rate card: ")


@dataclass(frozen=True)
class RateCard:
    currency: str
    hardware_per_gpu_hour: float     # amortised purchase price per GPU-hour
    power_per_kwh: float             # utility price per kWh at the meter
    pue: float                       # power, UPS and cooling overhead multiplier (>= 1)
    colo_rent_per_month: float       # whole cage, shared by GPU-hours
    storage_per_gb_month: float

    @classmethod
    def from_mapping(cls, raw: Any, where: str = "rate card") -> RateCard:
        if isinstance(raw, Mapping):
            raw = raw.get("cost_agent_rate_card", raw)  # accept the inventory file itself
        if not isinstance(raw, Mapping):
            raise ChargebackError(f"{where}: expected a mapping, got {type(raw).__name__}")
        numbers = {k: v for k, v in raw.items() if k != "currency"}
        if any(isinstance(v, bool) for v in numbers.values()):
            name = next(k for k, v in numbers.items() if isinstance(v, bool))
            raise ChargebackError(f"{where}: {name} must be a number, got {raw[name]!r}")
        try:
            card = RateCardSchema.model_validate(raw)
        except ValidationError as exc:
            raise ChargebackError(f"{where}: {_reason(exc)}") from None
        return cls(**card.model_dump())

    @classmethod
    def load(cls, path: Path) -> RateCard:
        where = f"rate card {path}"
        return cls.from_mapping(
            schema.parse_yaml(schema.read_text(path, "rate card"), where) or {}, where)


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
