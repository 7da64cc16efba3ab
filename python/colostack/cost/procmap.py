"""Map a pid to the service that owns it: /proc/<pid>/cgroup -> systemd unit or container
name -> service, through the label map kept in inventory."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

UNLABELLED = "unlabelled"
# Container scopes as podman, docker and containerd name them under systemd.
_CONTAINER = re.compile(r"(?:libpod|docker|cri-containerd)-([0-9a-f]{64})(?:\.scope)?$")
_UNIT = re.compile(r"[^/]+\.(?:service|scope)$")


class LabelMapError(ValueError):
    """The label map in inventory is unusable."""


@dataclass(frozen=True)
class Owner:
    """What /proc says owns a pid: a systemd unit, a container id, or neither."""

    unit: str | None
    container_id: str | None
    cgroup: str


def cgroup_path(text: str) -> str:
    """systemd's own hierarchy: name=systemd on legacy and hybrid hosts (where the unified
    line exists but does not hold units), else the unified (v2) path."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            paths[parts[1]] = parts[2]
    return paths.get("name=systemd", paths.get("", next(iter(paths.values()), "")))


def owner_of(cgroup: str) -> Owner:
    """The innermost unit in the path wins (a container scope sits under a unit slice)."""
    unit = container = None
    for part in reversed([p for p in cgroup.split("/") if p]):
        if container is None and (m := _CONTAINER.search(part)):
            container = m.group(1)
        if unit is None and _UNIT.fullmatch(part) and not part.endswith(".slice"):
            unit = part
    return Owner(unit, container, cgroup)


def read_owner(pid: int, proc: Path = Path("/proc")) -> Owner:
    return owner_of(cgroup_path((proc / str(pid) / "cgroup").read_text()))


@dataclass(frozen=True)
class LabelMap:
    """Keys are unit names ("vllm-chat.service"), "container:<name>" or "cgroup:<path prefix>";
    values are services. A container name beats its unit, a unit beats a cgroup prefix."""

    labels: Mapping[str, str]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> LabelMap:
        labels: dict[str, str] = {}
        for key, service in raw.items():
            if not isinstance(service, str) or not service.strip():
                raise LabelMapError(f"label {key!r} maps to no service (got {service!r})")
            if service == UNLABELLED:
                raise LabelMapError(f"label {key!r}: {UNLABELLED!r} is reserved")
            labels[str(key)] = service.strip()
        return cls(labels)

    def service_for(self, owner: Owner, container_names: Mapping[str, str]) -> str | None:
        if owner.container_id is not None:
            name = container_names.get(owner.container_id)
            if name is not None and f"container:{name}" in self.labels:
                return self.labels[f"container:{name}"]
        if owner.unit is not None and owner.unit in self.labels:
            return self.labels[owner.unit]
        prefixes = [k[len("cgroup:"):] for k in self.labels if k.startswith("cgroup:")]
        matches = [p for p in prefixes if owner.cgroup == p
                   or owner.cgroup.startswith(p.rstrip("/") + "/")]
        return self.labels[f"cgroup:{max(matches, key=len)}"] if matches else None
