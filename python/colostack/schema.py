"""Load a YAML or JSON document through a pydantic schema; a bad one is one UserError line.

The message names the file (or option), the field and the value, e.g.
`tco config tco.yml: self_hosted.pue: Input should be greater than or equal to 1 (got 0.9)`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from colostack.errors import UserError, one_line, shown

M = TypeVar("M", bound=BaseModel)


def location(loc: tuple[int | str, ...]) -> str:
    """A field path as written in the document: gpus[3].temp.gpu, self_hosted.pue."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def explain(exc: ValidationError, what: str) -> str:
    """One line for the first problem, with a count of the others."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] in ("model_type", "dict_type"):
        msg = f"expected a mapping, got {type(first['input']).__name__}"
    text = f"{what}: {location(loc)}: {msg}" if loc else f"{what}: {msg}"
    if loc and first["type"] not in ("missing", "extra_forbidden", "model_type", "dict_type"):
        text += f" (got {shown(first['input'])})"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return one_line(text)


def validated(model: type[M], data: Any, what: str) -> M:
    """data checked against model; a failure is a UserError naming `what` and the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UserError(explain(exc, what)) from None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name} is not allowed")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{what} {path}: is a directory, expected a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UserError(f"{what} {path}: cannot read ({reason})") from None


def parse_json(text: str, what: str) -> Any:
    """Strict JSON: NaN, Infinity and numbers beyond a float's range are refused."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise UserError(f"{what}: not valid JSON ({exc.msg} at line {exc.lineno} "
                        f"column {exc.colno})") from None
    except ValueError as exc:
        raise UserError(f"{what}: {exc}") from None


def parse_yaml(text: str, what: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise UserError(f"{what}: not valid YAML ({problem}{at})") from None


def load_json(path: Path, model: type[M], what: str) -> M:
    where = f"{what} {path}"
    return validated(model, parse_json(read_text(path, what), where), where)


def load_yaml(path: Path, model: type[M], what: str) -> M:
    where = f"{what} {path}"
    return validated(model, parse_yaml(read_text(path, what), where), where)
