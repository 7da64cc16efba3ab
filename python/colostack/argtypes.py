"""Range-checked option types for argparse (type=...), built on pydantic's constraints.

A value out of range is an argparse error: one line naming the option, exit 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import Field, TypeAdapter, ValidationError

N = TypeVar("N", int, float)


def number(kind: type[N], *, ge: float | None = None, gt: float | None = None,
           le: float | None = None) -> Callable[[str], N]:
    """A finite int or float within the bounds, e.g. number(int, ge=1) for a count."""
    bounded: Any = Annotated[kind, Field(ge=ge, gt=gt, le=le, allow_inf_nan=False)]
    adapter: TypeAdapter[N] = TypeAdapter(bounded)

    def parse(text: str) -> N:
        try:
            return adapter.validate_python(text.strip())
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"].lower()
            raise argparse.ArgumentTypeError(f"{reason}, got {text!r}") from None

    parse.__name__ = kind.__name__
    return parse


count = number(int, ge=1)
non_negative_int = number(int, ge=0)
positive = number(float, gt=0)
non_negative = number(float, ge=0)
fraction = number(float, gt=0, le=1)
share = number(float, ge=0, le=1)  # a fraction that may be 0, e.g. a tolerated error rate
percent = number(float, ge=0, le=100)
hours_per_day = number(float, ge=0, le=24)


def aware_datetime(text: str) -> datetime:
    """An ISO 8601 time with a UTC offset, e.g. 2026-03-28T02:30+01:00."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO time with a UTC offset such as 2026-03-28T02:30+01:00, "
            f"got {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"needs a UTC offset, e.g. 2026-03-28T02:30+01:00, got {text!r}")
    return moment

