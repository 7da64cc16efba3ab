"""Usage counters per service per day in Redis: HINCRBYFLOAT on
colostack:usage:<service>:<YYYY-MM-DD>, each key expiring after a retention period."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PREFIX = "colostack:usage"
FIELDS = ("gpu_seconds", "gpu_kwh", "storage_gb_days")
SERVICE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass
class Usage:
    gpu_seconds: float = 0.0
    gpu_kwh: float = 0.0
    storage_gb_days: float = 0.0

    def add(self, other: Usage) -> None:
        self.gpu_seconds += other.gpu_seconds
        self.gpu_kwh += other.gpu_kwh
        self.storage_gb_days += other.storage_gb_days

    def fields(self) -> dict[str, float]:
        return {f: getattr(self, f) for f in FIELDS if getattr(self, f)}


@dataclass
class MonthUsage:
    """days[service][YYYY-MM-DD] -> Usage, as read back from Redis."""

    month: str
    days: dict[str, dict[str, Usage]] = field(default_factory=dict)


def usage_key(service: str, day: str) -> str:
    if not SERVICE_NAME.match(service):
        raise ValueError(f"service name {service!r} must match {SERVICE_NAME.pattern}")
    return f"{PREFIX}:{service}:{day}"


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def write(client: Any, day: str, usage: Mapping[str, Usage], expire_s: int) -> None:
    """All increments of one agent run in one MULTI/EXEC, so a run counts fully or not at all."""
    pipe = client.pipeline(transaction=True)
    for service, u in usage.items():
        key = usage_key(service, day)
        for name, value in u.fields().items():
            pipe.hincrbyfloat(key, name, value)
        pipe.expire(key, expire_s)
    pipe.execute()


def check_month(month: str) -> str:
    if not _MONTH.match(month):
        raise ValueError(f"month {month!r} must look like 2026-11")
    return month


def read_month(client: Any, month: str) -> MonthUsage:
    check_month(month)
    out = MonthUsage(month)
    for raw_key in client.scan_iter(match=f"{PREFIX}:*:{month}-*", count=1000):
        key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
        service, day = key[len(PREFIX) + 1:].rsplit(":", 1)
        values = {(k.decode() if isinstance(k, bytes) else k): float(v)
                  for k, v in client.hgetall(raw_key).items()}
        out.days.setdefault(service, {})[day] = Usage(
            **{f: values.get(f, 0.0) for f in FIELDS})
    return out


def totals(month: MonthUsage) -> dict[str, Usage]:
    result: dict[str, Usage] = defaultdict(Usage)
    for service, days in month.days.items():
        for u in days.values():
            result[service].add(u)
    return dict(result)
