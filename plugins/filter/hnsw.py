"""How much memory pgvector's in-memory HNSW build takes: the postgresql role sizes
maintenance_work_mem with it and warns when a build would spill to disk.

pgvector 0.8 builds the graph in a memory context and counts it against maintenance_work_mem;
when the graph no longer fits it writes what it has and inserts the rest on disk, much slower
("hnsw graph no longer fits into maintenance_work_mem after N tuples"). Per row it allocates the
element (128 bytes), a pointer per level, a neighbour array per level (2m candidates on level 0,
m above, 16 bytes each) and a copy of the value; each allocation carries an 8-byte chunk header.
A row reaches level l with probability m^-l, so it has 1/(m-1) levels above 0 on average.
molecule/postgresql checks the estimate against the row count at which a real build spills.
"""

from __future__ import annotations

from typing import Any

_ELEMENT = 128
_CHUNK = 8
_CANDIDATE = 16
_ARRAY_HEADER = 8
_VALUE_HEADER = 8
_VALUE_BYTES = {"vector": 4, "halfvec": 2}


def _align(size: float) -> float:
    return -(-size // 8) * 8


def hnsw_build_bytes(rows: int, dimensions: int, m: int, column_type: str = "vector") -> int:
    """Bytes of the in-memory HNSW graph for rows of the given dimensions, m and column type."""
    if column_type not in _VALUE_BYTES:
        raise ValueError(f"column type must be one of {', '.join(_VALUE_BYTES)} (got {column_type!r})")
    if rows < 0 or dimensions < 1 or m < 2:
        raise ValueError("rows must be >= 0, dimensions >= 1 and m >= 2")
    upper = 1 / (m - 1)  # expected levels above level 0
    per_row = (
        _ELEMENT + _CHUNK
        + 8 * (1 + upper) + _CHUNK  # the array of neighbour-array pointers, one per level
        + _ARRAY_HEADER + _CANDIDATE * 2 * m + _CHUNK  # level 0
        + upper * (_ARRAY_HEADER + _CANDIDATE * m + _CHUNK)
        + _align(_VALUE_HEADER + _VALUE_BYTES[column_type] * dimensions) + _CHUNK
    )
    return int(rows * per_row)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"hnsw_build_bytes": hnsw_build_bytes}
