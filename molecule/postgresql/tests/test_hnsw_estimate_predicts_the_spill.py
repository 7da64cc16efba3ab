"""The postgresql role's HNSW build memory estimate (plugins/filter/hnsw.py) against a real build
on rp-db: pgvector reports the row at which its in-memory graph no longer fits into
maintenance_work_mem, and the estimate predicts that row within 10 %."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

testinfra_hosts = ["rp-db"]
_spec = importlib.util.spec_from_file_location("hnsw", Path(__file__).resolve().parents[3] / "plugins/filter/hnsw.py")
assert _spec and _spec.loader
hnsw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hnsw)

ROWS, DIM, M, MWM_MB = 45000, 32, 4, 16
SPILL = re.compile(r"hnsw graph no longer fits into maintenance_work_mem after (\d+) tuples")


def test_estimate_predicts_where_a_real_build_spills(host) -> None:
    sql = f"""
SET client_min_messages = notice;
SET maintenance_work_mem = '{MWM_MB}MB';
SET max_parallel_maintenance_workers = 0;
CREATE TEMP TABLE fit AS SELECT (SELECT array_agg(random() + 0 * g + 0 * i) FROM generate_series(1, {DIM}) AS i)::vector({DIM}) AS v
  FROM generate_series(1, {ROWS}) AS g;
CREATE INDEX ON fit USING hnsw (v vector_cosine_ops) WITH (m = {M}, ef_construction = {2 * M});
"""
    out = host.check_output(f"runuser -u postgres -- psql -X -q -d colostack -v ON_ERROR_STOP=1 2>&1 <<'SQL'\n{sql}\nSQL")
    spilled = SPILL.search(out)
    assert spilled, out
    per_row = hnsw.hnsw_build_bytes(ROWS, DIM, M) / ROWS
    predicted = MWM_MB * 1024 * 1024 / per_row
    assert abs(int(spilled.group(1)) - predicted) / predicted < 0.10, (spilled.group(1), round(predicted))
