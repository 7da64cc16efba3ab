"""The schema of a maintenance window ({start|rrule, duration, timezone}) and of a vars file.

Both the inventory variable and `--window JSON` go through WindowFields; a bad field is a
WindowSpecError naming it, e.g. `colostack_maintenance_window: timezone: ...`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, RootModel, model_validator

from colostack import schema
from colostack.errors import UserError
from colostack.windows.spec import (
    WindowSpec,
    WindowSpecError,
    flatcar_rule,
    parse_duration,
    rfc5545_rule,
)

WINDOW_VAR = "colostack_maintenance_window"
_KEYS = frozenset({"start", "rrule", "duration", "timezone"})


def _positive_duration(value: object) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise WindowSpecError(f"duration {value!r}: expected e.g. '4h', '45m' or '1h30m'")
    length = parse_duration(str(value))
    if length <= timedelta(0):
        raise WindowSpecError("duration must be positive")
    return length


def _zone(value: object) -> ZoneInfo:
    if not isinstance(value, str):
        raise WindowSpecError(f"timezone {value!r}: not an IANA time zone")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise WindowSpecError(f"timezone {value!r}: not an IANA time zone") from None


class WindowFields(BaseModel):
    """One window as the inventory writes it."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    start: str | None = None
    rrule: str | None = None
    duration: Annotated[timedelta, BeforeValidator(_positive_duration)]
    timezone: Annotated[ZoneInfo, BeforeValidator(_zone)] = ZoneInfo("UTC")

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a mapping, got {type(data).__name__}")
        unknown = set(data) - _KEYS
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        if (data.get("start") is None) == (data.get("rrule") is None):
            raise ValueError("set exactly one of start, rrule")
        if "duration" not in data:
            raise ValueError(f"{WINDOW_VAR}.duration is required")
        return data


def parse_window(data: object) -> WindowSpec:
    try:
        fields = schema.validated(WindowFields, data, WINDOW_VAR)
    except UserError as exc:
        raise WindowSpecError(str(exc)) from None
    assert isinstance(data, Mapping)  # the schema refused anything else
    if fields.start is not None:
        rule, text = flatcar_rule(fields.start), fields.start
    else:
        rule, text = rfc5545_rule(str(fields.rrule)), str(fields.rrule)
    source = f"{text} for {data['duration']} ({fields.timezone.key})"
    return WindowSpec(rule=rule, duration=fields.duration, tz=fields.timezone, source=source)


HostVars = RootModel[dict[str, dict[str, Any] | None]]


class _Meta(BaseModel):
    hostvars: HostVars


class InventoryList(BaseModel):
    """`ansible-inventory --list` output: host variables under _meta.hostvars."""

    meta: _Meta

    model_config = ConfigDict(populate_by_name=False, extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _rename(cls, data: Any) -> Any:
        return {"meta": data["_meta"]} if isinstance(data, Mapping) and "_meta" in data else data


def hosts_in(data: object, where: str) -> dict[str, dict[str, Any] | None]:
    """Host -> variables from `ansible-inventory --list` JSON or a plain {host: vars} map."""
    if isinstance(data, Mapping) and "_meta" in data:
        return schema.validated(InventoryList, data, where).meta.hostvars.root
    return schema.validated(HostVars, data, where).root
