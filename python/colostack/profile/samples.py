"""Compact GPU samples and their two stores: JSON Lines on disk and a Redis stream."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

from colostack.errors import UserError, one_line

FORMAT = "colostack-profile/1"
FIELDS = ("t", "gpu", "util", "mem_used_mib", "mem_total_mib", "power_w", "energy_mj")


@dataclass(frozen=True)
class Sample:
    """One reading of one GPU; energy_mj: NVML's counter since driver load, or None."""

    t: float
    gpu: int
    util: float
    mem_used_mib: float
    mem_total_mib: float
    power_w: float
    energy_mj: int | None = None

    def row(self) -> list[Any]:
        return list(astuple(self))

    @classmethod
    def from_row(cls, row: list[Any]) -> Sample:
        if len(row) != len(FIELDS):
            raise ValueError(f"sample row has {len(row)} fields, expected {len(FIELDS)}: {row!r}")
        t, gpu, util, used, total, power, energy = row
        return cls(float(t), int(gpu), float(util), float(used), float(total), float(power),
                   None if energy is None else int(energy))


@dataclass(frozen=True)
class Recording:
    """A header (host, whether it is synthetic, where it came from) and its samples."""

    host: str
    synthetic: bool
    source: str
    samples: list[Sample]


def write_header(path: Path, host: str, synthetic: bool, source: str) -> None:
    header = {"format": FORMAT, "fields": FIELDS, "host": host,
              "synthetic": synthetic, "source": source}
    path.write_text(json.dumps(header, separators=(",", ":")) + "\n")


def append_jsonl(path: Path, samples: Iterable[Sample]) -> None:
    with path.open("a") as fh:
        for s in samples:
            fh.write(json.dumps(s.row(), separators=(",", ":")) + "\n")


def read_jsonl(path: Path) -> Recording:
    lines = iter(path.read_text().splitlines())
    header = json.loads(next(lines, "{}"))
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} recording (header {header!r})")
    if "synthetic" not in header:
        raise ValueError(f"{path}: header must say whether the recording is synthetic")
    samples = [Sample.from_row(json.loads(line)) for line in lines if line.strip()]
    return Recording(str(header.get("host", "")), bool(header["synthetic"]),
                     str(header.get("source", "")), samples)


def load(path: Path) -> Recording:
    """read_jsonl for the CLI: a missing or malformed recording is a UserError naming it."""
    try:
        return read_jsonl(path)
    except FileNotFoundError:
        raise UserError(f"profile recording {path}: no such file") from None
    except (OSError, ValueError, TypeError) as exc:
        reason = one_line(str(exc)).removeprefix(f"{path}: ")
        raise UserError(f"profile recording {path}: {reason}") from None


def redis_key(host: str) -> str:
    return f"colostack:profile:{host}"


def append_redis(client: Any, host: str, samples: Iterable[Sample],
                 maxlen: int) -> None:
    """Append to a capped stream: the cap keeps memory bounded (size it for 30 days)."""
    for s in samples:
        client.xadd(redis_key(host), {"s": json.dumps(s.row(), separators=(",", ":"))},
                    maxlen=maxlen, approximate=True)


def read_redis(client: Any, host: str) -> Iterator[Sample]:
    for _id, fields in client.xrange(redis_key(host)):
        raw = fields.get(b"s", fields.get("s"))
        yield Sample.from_row(json.loads(raw))
