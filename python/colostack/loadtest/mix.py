"""The request mix: which requests a load test sends, and how often each."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from colostack.errors import UserError


class Shape(BaseModel):
    """One kind of request: chat or completion, streamed or not, with its token lengths."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["chat", "completion"] = "chat"
    stream: bool = True
    prompt_tokens: int = Field(default=128, ge=1, le=1_000_000)
    max_tokens: int = Field(default=100, ge=1, le=100_000)
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)


class Mix(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shapes: list[Shape] = Field(min_length=1)

    def draw(self, rng: random.Random) -> Shape:
        return rng.choices(self.shapes, weights=[s.weight for s in self.shapes])[0]


# The seed's acceptance workload: 100-token completions, streamed, half chat.
DEFAULT = Mix(shapes=[Shape(kind="chat"), Shape(kind="completion")])


def load(path: Path) -> Mix:
    try:
        data = yaml.safe_load(path.read_text())
        return Mix.model_validate(data)
    except yaml.YAMLError as exc:
        raise UserError(f"mix {path}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise UserError(f"mix {path}: {where}: {err['msg']}") from None


def prompt(shape: Shape, rng: random.Random) -> str:
    """A prompt of about shape.prompt_tokens words (the stand-in counts words as tokens)."""
    return " ".join(f"t{rng.randrange(10_000)}" for _ in range(shape.prompt_tokens))
