"""`colostack recall-probe`: one recall@k measurement, as JSON on stdout and a textfile metric."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from colostack import argtypes
from colostack.errors import UserError

if TYPE_CHECKING:  # probe imports psycopg, which hosts without the database extras lack
    from colostack.recall.probe import ProbeConfig, ProbeResult

DEFAULT_DSN = "host=/var/run/postgresql user=postgres dbname=colostack"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "recall-probe", help="measure the vector index's recall@k against an exact scan",
        description="Sample stored vectors, compare the index's top-k (with the server's "
        "hnsw.ef_search or ivfflat.probes) to an exact scan, print the result as JSON and "
        "optionally write a node_exporter textfile. Exit 0 measured, 2 could not measure.")
    p.add_argument("--dsn", default=DEFAULT_DSN, help="libpq connection string (%(default)s)")
    p.add_argument("--table", default="document_embeddings",
                   help="table in schema public (%(default)s)")
    p.add_argument("--column", default="embedding", help="vector column (%(default)s)")
    p.add_argument("--id-column", default="id", help="row id column (%(default)s)")
    p.add_argument("-k", type=argtypes.count, default=10, metavar="K",
                   help="neighbours compared per query (%(default)s)")
    p.add_argument("--sample", type=argtypes.count, default=20, metavar="N",
                   help="stored vectors used as queries (%(default)s)")
    search = p.add_mutually_exclusive_group()
    search.add_argument("--ef-search", type=argtypes.count, metavar="N",
                        help="hnsw.ef_search for this run (default: the server's)")
    search.add_argument("--probes", type=argtypes.count, metavar="N",
                        help="ivfflat.probes for this run (default: the server's)")
    p.add_argument("--statement-timeout", type=argtypes.positive, default=30.0,
                   metavar="SECONDS", help="limit for every query (%(default)s)")
    p.add_argument("--prom", type=Path, metavar="FILE", help="write a node_exporter textfile here")
    p.set_defaults(func=run)


def config_from(args: argparse.Namespace) -> ProbeConfig:
    from colostack.recall.probe import ProbeConfig  # noqa: PLC0415

    search = (("hnsw.ef_search", args.ef_search) if args.ef_search
              else ("ivfflat.probes", args.probes) if args.probes else None)
    return ProbeConfig(table=args.table, column=args.column, id_column=args.id_column,
                       k=args.k, sample=args.sample, search=search,
                       statement_timeout_s=args.statement_timeout)


def write_prom(result: ProbeResult, path: Path) -> None:
    """recall@k (absent when the table had no vectors), query count, index use and run time."""
    registry = CollectorRegistry()
    if result.recall is not None:
        Gauge("colostack_pgvector_recall", "Mean recall@k of the vector index against an exact "
              "scan over sampled stored vectors", ["k", "table"], registry=registry).labels(
                  str(result.k), result.table).set(result.recall)
    Gauge("colostack_pgvector_recall_queries", "Sampled vectors the last probe compared",
          ["table"], registry=registry).labels(result.table).set(result.queries)
    Gauge("colostack_pgvector_recall_index_scan_used", "1 when the planner used the vector "
          "index for the probe's index query", ["table"], registry=registry).labels(
              result.table).set(1 if result.index_scan_used else 0)
    Gauge("colostack_pgvector_recall_last_run_timestamp_seconds", "When the probe last measured",
          ["table"], registry=registry).labels(result.table).set_to_current_time()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)


def run(args: argparse.Namespace) -> int:
    import psycopg  # noqa: PLC0415 (optional dependency: the runtime's psycopg[binary])

    from colostack.recall.probe import run_probe  # noqa: PLC0415 (imports psycopg)

    config = config_from(args)
    try:
        with psycopg.connect(args.dsn, connect_timeout=10, autocommit=True) as conn:
            result = run_probe(conn, config)
    except psycopg.Error as exc:
        raise UserError(f"database {args.dsn!r}: {str(exc).strip()}") from None
    if args.prom:
        write_prom(result, args.prom)
    print(json.dumps(result.to_json(), indent=1))
    return 0
