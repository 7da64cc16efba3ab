"""The TCO model: monthly cost, capital, cumulative cost and break-even month per approach."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, create_model

from colostack import schema
from colostack.errors import UserError
from colostack.powercap import Constraint, plan

HOURS_PER_MONTH = 730.0   # 8,760 / 12
DAYS_PER_MONTH = 365.0 / 12


class TcoConfigError(ValueError, UserError):
    """A config value is unknown or out of range; the message names it."""


def defaults() -> dict[str, Any]:
    text = resources.files("colostack").joinpath("data/tco-defaults.yml").read_text()
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def _schema(name: str, template: Mapping[str, Any]) -> type[BaseModel]:
    """A schema derived from the defaults, so the defaults file is the one list of settings:
    every key optional (an override), no others, numbers finite and not negative."""
    fields: dict[str, Any] = {}
    for key, value in template.items():
        if isinstance(value, Mapping):
            kind: Any = _schema(f"{name}_{key}", value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            kind = Annotated[float, Field(ge=0)]
        else:
            kind = type(value)
        fields[key] = (kind | None, None)
    config = ConfigDict(extra="forbid", allow_inf_nan=False)
    return create_model(name, __config__=config, **fields)


def load_override(path: Path) -> dict[str, Any]:
    """A --config file, checked against the defaults' schema (a bad one is one line)."""
    where = f"tco config {path}"
    data = schema.parse_yaml(schema.read_text(path, "tco config"), where) or {}
    schema.validated(_schema("TcoConfig", defaults()), data, where)
    loaded: dict[str, Any] = data
    return loaded


def merge(base: Mapping[str, Any], override: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Override only keys that exist in the defaults, so a typo is an error, not a no-op."""
    out = dict(base)
    for key, value in override.items():
        name = f"{where}{key}"
        if key not in base:
            raise TcoConfigError(f"unknown TCO setting {name!r}")
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise TcoConfigError(f"{name} must be a mapping")
            out[key] = merge(base[key], value, f"{name}.")
        else:
            if isinstance(base[key], int | float) and (
                    isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                raise TcoConfigError(f"{name} must be a non-negative number, got {value!r}")
            out[key] = value
    return out


@dataclass(frozen=True)
class Approach:
    name: str
    capex: float      # paid in month 0
    monthly: float    # running cost per month, capital excluded

    def cumulative(self, month: int) -> float:
        return self.capex + self.monthly * month

    def amortised_monthly(self, amortisation_months: float) -> float:
        return self.monthly + (self.capex / amortisation_months if self.capex else 0.0)


def break_even_month(approach: Approach, baseline: Approach) -> int | None:
    """First whole month at whose end the approach's total spend is no more than the
    baseline's: 0 if it never costs more, None if it never catches up."""
    if approach.capex <= baseline.capex and approach.monthly <= baseline.monthly:
        return 0
    saving = baseline.monthly - approach.monthly
    if saving <= 0:
        return None
    return math.ceil((approach.capex - baseline.capex) / saving - 1e-9)


@dataclass(frozen=True)
class Result:
    approaches: list[Approach]
    baseline: str
    months: int
    amortisation_months: float
    node_power_w: float
    caps_w: tuple[int, ...]

    def by_name(self, name: str) -> Approach:
        return next(a for a in self.approaches if a.name == name)

    def break_even(self) -> dict[str, int | None]:
        base = self.by_name(self.baseline)
        return {a.name: break_even_month(a, base) for a in self.approaches
                if a.name != self.baseline}


def evaluate(cfg: Mapping[str, Any]) -> Result:
    gpus = int(cfg["gpus"])
    busy_h = float(cfg["hours_per_day"]) * DAYS_PER_MONTH
    if not 0 <= cfg["hours_per_day"] <= 24:
        raise TcoConfigError(f"hours_per_day must be 0-24, got {cfg['hours_per_day']}")
    storage = float(cfg["storage_gb"])
    c, a, s, h = cfg["cloud"], cfg["api"], cfg["self_hosted"], cfg["hybrid"]
    if c["billing"] not in ("monthly", "hourly"):
        raise TcoConfigError(f"cloud.billing must be monthly or hourly, got {c['billing']!r}")
    if not 0 <= h["owned_fraction"] <= 1:
        raise TcoConfigError(f"hybrid.owned_fraction must be 0-1, got {h['owned_fraction']}")
    if s["pue"] < 1:
        raise TcoConfigError(f"self_hosted.pue must be at least 1, got {s['pue']}")
    if int(s["gpus_per_node"]) < 1 or s["amortisation_months"] <= 0:
        raise TcoConfigError("self_hosted.gpus_per_node must be at least 1 and "
                             "self_hosted.amortisation_months above 0")

    def cloud_gpus(n: float) -> float:
        share = 1.0 if c["billing"] == "monthly" else busy_h / HOURS_PER_MONTH
        return n * float(c["per_gpu_month"]) * share

    cloud = Approach("cloud", 0.0, cloud_gpus(gpus) + storage * c["managed_storage_per_gb_month"])
    api = Approach("api", 0.0, gpus * busy_h * a["tokens_per_gpu_hour"] / 1e6
                   * a["per_million_tokens"] + storage * c["managed_storage_per_gb_month"])

    per_node = int(s["gpus_per_node"])
    caps = plan(s["power_budget_w"], s["base_w"],
                [Constraint(s["gpu_min_w"], s["gpu_max_w"])] * per_node)
    # Per owned GPU: a share of the node's price and of its running cost. The node draws its
    # capped maximum while busy and idle_w otherwise.
    kwh = (busy_h * caps.node_max_w + (HOURS_PER_MONTH - busy_h) * s["idle_w"]) / 1000
    node_running = (s["colo_rent_per_month"] + s["operations_per_month"]
                    + kwh * s["power_per_kwh"] * s["pue"])
    gpu_capex, gpu_running = s["node_price"] / per_node, node_running / per_node
    owned_storage = storage * s["owned_storage_per_gb_month"]
    own = Approach("self_hosted", gpus * gpu_capex, gpus * gpu_running + owned_storage)

    owned = round(gpus * h["owned_fraction"])
    hybrid = Approach("hybrid", owned * gpu_capex,
                      owned * gpu_running + cloud_gpus(gpus - owned) + owned_storage)
    return Result([cloud, api, own, hybrid], str(cfg["baseline"]), int(cfg["months"]),
                  float(s["amortisation_months"]), caps.node_max_w, caps.caps_w)
