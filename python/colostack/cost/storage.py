"""Storage per service: PostgreSQL relation sizes per schema or table, and paths on disk."""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from colostack.cost.procmap import UNLABELLED

GB = 1e9
_SIZES = """
SELECT n.nspname, c.relname, pg_total_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
"""


def relation_sizes(dsn: str) -> list[tuple[str, str, int]]:
    import psycopg  # noqa: PLC0415 (optional dependency)

    with psycopg.connect(dsn, connect_timeout=10) as conn:
        rows: list[tuple[str, str, int]] = conn.execute(_SIZES).fetchall()
    return rows


def postgres_gb(rows: list[tuple[str, str, int]], mapping: Mapping[str, str]) -> dict[str, float]:
    """"schema.table" in the map beats "schema"; anything unmapped is reported as unlabelled."""
    out: dict[str, float] = defaultdict(float)
    for schema, table, size in rows:
        service = mapping.get(f"{schema}.{table}", mapping.get(schema, UNLABELLED))
        out[service] += size / GB
    return dict(out)


def path_bytes(root: Path) -> int:
    """Allocated bytes of a file or under a directory (like du): hard links once, symlinks
    not followed, a missing path is 0 (warned) so one bad path does not stop GPU accounting."""
    if not root.is_dir():
        if not root.exists():
            print(f"warning: storage path {root} does not exist; counted as 0", file=sys.stderr)
            return 0
        return os.lstat(root).st_blocks * 512
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in [*files, "."]:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def paths_gb(mapping: Mapping[str, str]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for path, service in mapping.items():
        out[service] += path_bytes(Path(path)) / GB
    return dict(out)


def merge(*parts: Mapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for part in parts:
        for k, v in part.items():
            out[k] += v
    return dict(out)
