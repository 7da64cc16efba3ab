"""One run of the cost agent (a systemd timer starts it once a minute): read GPU processes and
energy counters, map pids to services, apportion the time and energy since the last run, add
storage, and increment the day's counters in Redis."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from colostack import redisconn
from colostack.cost import storage
from colostack.cost import usage as store
from colostack.cost.gpus import GpuReading, read_nvml, read_replay
from colostack.cost.procmap import UNLABELLED, LabelMap, Owner, read_owner
from colostack.cost.usage import SERVICE_NAME, Usage
from colostack.errors import UserError, one_line
from colostack.nvml.session import Session

IDLE = "idle"


class AgentConfigError(ValueError, UserError):
    """The agent's config file is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class AgentConfig:
    redis_url: str
    labels: LabelMap
    redis_password: str | None = None
    # The CA (or self-signed certificate) a rediss:// server's certificate is checked against.
    redis_ca_file: str | None = None
    expire_days: int = 400
    max_gap_s: float = 300.0
    state_file: Path = Path("/var/lib/colostack-cost-agent/state.json")
    collect_gpus: bool = True
    nvml_replay: Path | None = None
    nvml_timeout_s: float = 5.0
    postgres: tuple[tuple[str, Mapping[str, str]], ...] = ()
    paths: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        """Read the agent's config; a missing or malformed one is a UserError naming the file.

        Checked by hand, not with pydantic: GPU hosts run the agent on Debian's packages only.
        """
        try:
            return cls._load(path)
        except UserError:
            raise
        except FileNotFoundError:
            raise AgentConfigError(f"cost agent config {path}: no such file") from None
        except KeyError as exc:
            raise AgentConfigError(f"cost agent config {path}: {exc.args[0]} is missing") from None
        except (OSError, yaml.YAMLError, TypeError, ValueError, AttributeError) as exc:
            raise AgentConfigError(f"cost agent config {path}: {one_line(str(exc))}") from None

    @classmethod
    def _load(cls, path: Path) -> AgentConfig:
        raw: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
        if not isinstance(raw, dict):
            raise TypeError(f"expected a mapping, got {type(raw).__name__}")
        labels = LabelMap.from_mapping(raw.get("labels") or {})
        services = set(labels.labels.values())
        pg = tuple((str(db["dsn"]), dict(db.get("map") or {})) for db in raw.get("postgres") or [])
        paths = dict(raw.get("paths") or {})
        for name in [*services, *(s for _, m in pg for s in m.values()), *paths.values()]:
            if not SERVICE_NAME.match(str(name)):
                raise ValueError(f"{path}: service name {name!r} must match "
                                 f"{SERVICE_NAME.pattern}")
        replay = raw.get("nvml_replay")
        return cls(
            redis_url=str(raw["redis_url"]), labels=labels,
            redis_password=raw.get("redis_password"),
            redis_ca_file=str(raw["redis_ca_file"]) if raw.get("redis_ca_file") else None,
            expire_days=int(raw.get("expire_days", 400)),
            max_gap_s=float(raw.get("max_gap_s", 300)),
            state_file=Path(raw.get("state_file", cls.state_file)),
            collect_gpus=bool(raw.get("collect_gpus", True)),
            nvml_replay=Path(replay) if replay else None,
            nvml_timeout_s=float(raw.get("nvml_timeout_s", 5.0)),
            postgres=pg, paths=paths,
        )


@dataclass
class State:
    """What the previous run saw: its time, each GPU's energy counter, the replay position."""

    t: float | None = None
    energy_mj: dict[str, int] = field(default_factory=dict)
    replay_frame: int = 0

    @classmethod
    def load(cls, path: Path) -> State:
        return cls(**json.loads(path.read_text())) if path.exists() else cls()

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(path)


def _shares(reading: GpuReading, service_of: Mapping[int, str]) -> dict[str, float]:
    """Split one GPU between its services by memory used, or evenly when NVML hides memory."""
    if not reading.procs:
        return {IDLE: 1.0}
    mem = [p.used_memory_mib for p in reading.procs]
    weights = ([float(m or 0.0) for m in mem] if all(m for m in mem)
               else [1.0] * len(reading.procs))
    total = sum(weights)
    out: dict[str, float] = defaultdict(float)
    for p, w in zip(reading.procs, weights, strict=True):
        out[service_of[p.pid]] += w / total
    return dict(out)


def apportion(readings: list[GpuReading], service_of: Mapping[int, str], prev: State,
              now: float, max_gap_s: float) -> tuple[dict[str, Usage], State]:
    """GPU-seconds and kWh per service since the previous run. The first run only sets the
    baseline; a gap longer than max_gap_s (agent was down) is charged as max_gap_s."""
    usage: dict[str, Usage] = defaultdict(Usage)
    elapsed = min(now - prev.t, max_gap_s) if prev.t is not None else 0.0
    energy: dict[str, int] = {}
    for r in readings:
        shares = _shares(r, service_of)
        delta_kwh = 0.0
        if r.energy_mj is not None:
            energy[r.uuid] = r.energy_mj
            before = prev.energy_mj.get(r.uuid)
            # A counter that went backwards means a driver reload: no trustworthy delta.
            if before is not None and r.energy_mj >= before:
                delta_kwh = (r.energy_mj - before) / 3.6e9
        for service, share in shares.items():
            usage[service].add(Usage(gpu_seconds=elapsed * share, gpu_kwh=delta_kwh * share))
    return dict(usage), State(now, energy, prev.replay_frame)


def container_names() -> dict[str, str]:
    """Full container id -> name, from podman or docker when installed."""
    for tool in ("podman", "docker"):
        exe = shutil.which(tool)
        if exe:
            out = subprocess.run([exe, "ps", "--no-trunc", "--format", "{{.ID}} {{.Names}}"],
                                 capture_output=True, text=True, timeout=10, check=False).stdout
            return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    return {}


def map_pids(readings: list[GpuReading], labels: LabelMap,
             owner: Callable[[int], Owner] = read_owner,
             warn: Callable[[str], None] = print) -> dict[int, str]:
    names = container_names() if any(r.procs for r in readings) else {}
    result: dict[int, str] = {}
    for pid in {p.pid for r in readings for p in r.procs}:
        try:
            o = owner(pid)
        except FileNotFoundError:
            warn(f"pid {pid} exited before it could be mapped; charged as {UNLABELLED}")
            result[pid] = UNLABELLED
            continue
        service = labels.service_for(o, names)
        if service is None:
            warn(f"pid {pid} (unit {o.unit}, container {o.container_id}, cgroup {o.cgroup}) "
                 f"matches no label; charged as {UNLABELLED}")
            service = UNLABELLED
        result[pid] = service
    return result


def run_once(cfg: AgentConfig, now: float) -> dict[str, Usage]:
    prev = State.load(cfg.state_file)
    readings: list[GpuReading] = []
    frame = prev.replay_frame
    if cfg.collect_gpus:
        if cfg.nvml_replay is not None:
            readings, _count = read_replay(cfg.nvml_replay, prev.replay_frame)
            frame += 1
        else:
            with Session(cfg.nvml_timeout_s) as nvml:
                readings = read_nvml(nvml)
    result, state = apportion(readings, map_pids(readings, cfg.labels), prev, now, cfg.max_gap_s)
    state.replay_frame = frame

    sizes = storage.merge(*(storage.postgres_gb(storage.relation_sizes(dsn), m)
                            for dsn, m in cfg.postgres), storage.paths_gb(cfg.paths))
    if prev.t is not None:
        days = min(now - prev.t, cfg.max_gap_s) / 86400.0
        for service, gb in sizes.items():
            result.setdefault(service, Usage()).add(Usage(storage_gb_days=gb * days))

    client = redisconn.connect(cfg.redis_url, cfg.redis_password, ca_file=cfg.redis_ca_file)
    store.write(client, store.day_of(now), result, cfg.expire_days * 86400)
    state.save(cfg.state_file)  # only after Redis took the increments
    return result
