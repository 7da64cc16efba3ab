"""One recall probe run: sample stored vectors, ask the index and an exact scan, compare.

The core is `run_probe(conn, config)`, which returns a `ProbeResult`; the timer's command and
the load test both call it. Each query runs in its own transaction with SET LOCAL, so the
session keeps the server's settings: the index query uses the configured hnsw.ef_search or
ivfflat.probes (or the override in the config) with sequential scans off so the index answers;
the exact query turns index scans off. statement_timeout bounds every statement.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg import Connection, errors, sql

from colostack.errors import UserError
from colostack.recall.score import mean, recall_at_k

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# pgvector operator classes (vector and halfvec) and the distance operator each one indexes.
OPERATORS: dict[str, str] = {"l2_ops": "<->", "ip_ops": "<#>", "cosine_ops": "<=>",
                             "l1_ops": "<+>"}
# Index method and the setting its search reads.
SEARCH_SETTING: dict[str, str] = {"hnsw": "hnsw.ef_search", "ivfflat": "ivfflat.probes"}


@dataclass(frozen=True)
class ProbeConfig:
    table: str = "document_embeddings"
    column: str = "embedding"
    id_column: str = "id"
    k: int = 10
    sample: int = 20
    # (setting, value), e.g. ('hnsw.ef_search', 80); None keeps the server's configured value.
    search: tuple[str, int] | None = None
    statement_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        for option, value in (("table", self.table), ("column", self.column),
                              ("id column", self.id_column)):
            if not _NAME.match(value):
                raise UserError(f"{option} {value!r}: expected a lower-case SQL name")
        if self.k < 1 or self.sample < 1:
            raise UserError(f"k and sample must be at least 1, got k={self.k} "
                            f"sample={self.sample}")


@dataclass(frozen=True)
class IndexInfo:
    name: str
    method: str  # hnsw or ivfflat
    operator: str  # the distance operator the index orders by


@dataclass
class ProbeResult:
    table: str
    index: str
    method: str
    operator: str
    k: int
    setting: str
    setting_value: str
    queries: int
    recall: float | None
    min_recall: float | None
    index_scan_used: bool
    duration_s: float
    at: str
    per_query: list[float] = field(default_factory=list)
    query_ids: list[str] = field(default_factory=list)  # the sample, so a test can recompute

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def find_index(conn: Connection[Any], config: ProbeConfig) -> IndexInfo:
    """The valid hnsw or ivfflat index on the column, and the operator its opclass orders by."""
    row = conn.execute(
        """SELECT c.relname, am.amname, opc.opcname
             FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_am am ON am.oid = c.relam
             JOIN pg_opclass opc ON opc.oid = i.indclass[0]
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            WHERE i.indrelid = to_regclass(%s) AND a.attname = %s AND i.indisvalid
              AND am.amname IN ('hnsw', 'ivfflat')
            ORDER BY c.relname LIMIT 1""",
        (f"public.{config.table}", config.column)).fetchone()
    if row is None:
        raise UserError(f"table public.{config.table}: no valid hnsw or ivfflat index on "
                        f"column {config.column}")
    name, method, opclass = str(row[0]), str(row[1]), str(row[2])
    suffix = opclass.split("_", 1)[-1]
    if suffix not in OPERATORS:
        raise UserError(f"index {name}: operator class {opclass} is not one of pgvector's")
    return IndexInfo(name, method, OPERATORS[suffix])


def _local_settings(conn: Connection[Any], config: ProbeConfig, *, exact: bool) -> None:
    conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(
        sql.Literal(f"{int(config.statement_timeout_s * 1000)}ms")))
    if exact:
        for name in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
            conn.execute(sql.SQL("SET LOCAL {} = off").format(sql.Identifier(name)))
        return
    conn.execute("SET LOCAL enable_seqscan = off")  # small tables would skip the index
    if config.search is not None:
        conn.execute(sql.SQL("SELECT set_config({}, {}, true)").format(
            sql.Literal(config.search[0]), sql.Literal(str(config.search[1]))))


def _top_k_query(config: ProbeConfig, operator: str) -> sql.Composed:
    """Nearest k ids to the stored vector of one row (pgvector's documented row-neighbour form)."""
    return sql.SQL(
        "SELECT {id}::text FROM public.{table} WHERE {col} IS NOT NULL "
        "ORDER BY {col} {op} (SELECT {col} FROM public.{table} WHERE {id} = %s) "
        "LIMIT {k}").format(id=sql.Identifier(config.id_column),
                            table=sql.Identifier(config.table),
                            col=sql.Identifier(config.column), op=sql.SQL(operator),
                            k=sql.Literal(config.k))


def sample_ids(conn: Connection[Any], config: ProbeConfig) -> list[str]:
    """Up to `config.sample` ids of rows with a vector, read from a bounded Bernoulli sample."""
    with conn.transaction():
        _local_settings(conn, config, exact=True)
        rows = conn.execute(sql.SQL(
            "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = to_regclass({})").format(
                sql.Literal(f"public.{config.table}"))).fetchone()
        estimate = float(rows[0]) if rows else 0.0
        # Four times the sample, as a share of the estimated rows; whole table when small.
        percent = 100.0 if estimate <= 0 else min(100.0, 400.0 * config.sample / estimate)
        found = conn.execute(sql.SQL(
            "SELECT {id}::text FROM public.{table} TABLESAMPLE BERNOULLI ({pct}) "
            "WHERE {col} IS NOT NULL ORDER BY random() LIMIT {n}").format(
                id=sql.Identifier(config.id_column), table=sql.Identifier(config.table),
                col=sql.Identifier(config.column), pct=sql.Literal(percent),
                n=sql.Literal(config.sample))).fetchall()
    return [str(r[0]) for r in found]


def _ids(conn: Connection[Any], config: ProbeConfig, index: IndexInfo, row_id: str, *,
         exact: bool) -> list[str]:
    with conn.transaction():
        _local_settings(conn, config, exact=exact)
        # Never prepared: the index and exact queries share one text, and a cached plan would
        # outlive the SET LOCAL that chose it (psycopg prepares from the fifth execution).
        return [str(r[0]) for r in conn.execute(_top_k_query(config, index.operator),
                                                (row_id,), prepare=False).fetchall()]


def name_in_plan(plan: Any, index_name: str) -> bool:
    """Whether any node of an EXPLAIN (FORMAT JSON) plan scans the named index."""
    if isinstance(plan, dict):
        return plan.get("Index Name") == index_name or any(
            name_in_plan(v, index_name) for v in plan.values())
    if isinstance(plan, list):
        return any(name_in_plan(v, index_name) for v in plan)
    return False


def _index_used(conn: Connection[Any], config: ProbeConfig, index: IndexInfo,
                row_id: str) -> bool:
    """Whether the planner answers the index query with the vector index (EXPLAIN, not run)."""
    with conn.transaction():
        _local_settings(conn, config, exact=False)
        plan = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + _top_k_query(
            config, index.operator), (row_id,), prepare=False).fetchone()
    return plan is not None and name_in_plan(plan[0], index.name)


def run_probe(conn: Connection[Any], config: ProbeConfig) -> ProbeResult:
    """Recall@k of the index over a fresh sample of stored vectors, against exact scans."""
    t0 = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    index = find_index(conn, config)
    setting = SEARCH_SETTING[index.method]
    if config.search is not None and config.search[0] != setting:
        raise UserError(f"index {index.name} is {index.method}, which reads {setting}, "
                        f"not {config.search[0]}")
    try:
        ids = sample_ids(conn, config)
        per_query = [recall_at_k(_ids(conn, config, index, i, exact=False),
                                 _ids(conn, config, index, i, exact=True), config.k)
                     for i in ids]
        used = _index_used(conn, config, index, ids[0]) if ids else False
        with conn.transaction():
            _local_settings(conn, config, exact=False)
            shown = conn.execute(sql.SQL("SELECT current_setting({})").format(
                sql.Literal(setting))).fetchone()
    except errors.QueryCanceled as exc:
        raise UserError(f"a probe query ran past statement_timeout "
                        f"{config.statement_timeout_s:g}s; lower the sample: "
                        f"{str(exc).strip()}") from None
    return ProbeResult(config.table, index.name, index.method, index.operator, config.k,
                       setting, str(shown[0]) if shown else "", len(per_query),
                       mean(per_query), min(per_query) if per_query else None, used,
                       time.perf_counter() - t0, started, per_query, ids)
