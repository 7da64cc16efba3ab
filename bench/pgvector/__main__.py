"""pgvector benchmark: the role's default index against the seed's IVFFlat (lists=100, probes=1),
and the same HNSW index over halfvec (an expression index on embedding::halfvec).

Usage (repository root): .venv/bin/python -m bench.pgvector [--rows 100000] [--dim 1536]

Provisions a fresh Debian 13 test host with the postgresql role, loads a deterministic
latent-mixture data set, measures recall@10 against exact search and QPS from several
client threads each holding one connection open, sweeps ef_search / probes, and prints
the curves, the figures at default settings, QPS at equal recall (0.95, 0.99), each index's
size and build time, and the HNSW build time with the role's maintenance_work_mem against
PostgreSQL's default (64MB), side by side on one host.
"""

from __future__ import annotations

import argparse
import itertools
import secrets
import struct
import threading
import time
from dataclasses import dataclass

import numpy as np
import psycopg

from bench.testhost import TestHost, network_cidr

TABLE = "document_embeddings"
INDEX = "document_embeddings_embedding_idx"


def latent_mixture(rows: int, queries: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Text-embedding-like data: a 24-d mixture of uneven clusters mapped linearly to dim, plus noise.

    Cluster sizes follow a Zipf-like law and spreads vary per cluster, so some regions are dense
    and some sparse, as with real corpora. Queries come from the same distribution.
    """
    rng = np.random.default_rng(seed)
    latent, clusters = 24, 300
    weights = 1.0 / np.arange(1, clusters + 1) ** 0.8
    weights /= weights.sum()
    centers = rng.normal(0.0, 1.0, (clusters, latent))
    spreads = rng.lognormal(np.log(0.35), 0.4, clusters)
    axes = rng.lognormal(0.0, 0.5, (clusters, latent))  # anisotropic clusters
    projection = rng.normal(0.0, 1.0 / np.sqrt(latent), (latent, dim))

    def draw(n: int) -> np.ndarray:
        c = rng.choice(clusters, size=n, p=weights)
        z = centers[c] + rng.normal(0.0, 1.0, (n, latent)) * axes[c] * spreads[c, None]
        x = z @ projection + rng.normal(0.0, 0.03, (n, dim))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    return draw(rows), draw(queries)


def exact_top10(data: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Exact cosine top-10 (the vectors are unit length, so the largest dot products)."""
    scores = queries @ data.T
    top = np.argpartition(-scores, 10, axis=1)[:, :10]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


def copy_binary(conn: psycopg.Connection, data: np.ndarray) -> None:
    """COPY rows in PostgreSQL's binary format; pgvector's binary vector is (int16 dim, int16 0, float4[] BE)."""
    dim = data.shape[1]
    big_endian = data.astype(">f4")
    head = struct.pack(">hh", dim, 0)
    with conn.cursor() as cur, cur.copy(f"COPY {TABLE} (content, embedding) FROM STDIN WITH (FORMAT binary)") as cp:
        cp.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
        for i in range(len(data)):
            content = str(i).encode()
            cp.write(struct.pack(">hi", 2, len(content)) + content
                     + struct.pack(">i", 4 + 4 * dim) + head + big_endian[i].tobytes())
        cp.write(struct.pack(">h", -1))


@dataclass
class Point:
    index: str
    knob: str
    value: int
    recall: float
    qps: float


def vec(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in v) + "]"


SEARCH = f"SELECT content FROM {TABLE} ORDER BY embedding <=> %s::vector LIMIT 10"
# halfvec through an expression index: the same rows, half the bytes per dimension in the index.
SEARCH_HALF = "SELECT content FROM {table} ORDER BY embedding::halfvec({dim}) <=> %s::halfvec({dim}) LIMIT 10"


def measure(dsn: str, knob: str, value: int, queries: list[str], truth: np.ndarray,
            threads: int, seconds: float, search: str = SEARCH) -> tuple[float, float]:
    """Recall@10 over all queries, then QPS from `threads` held-open connections for `seconds`."""
    setting = f"SET {knob} = {int(value)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(setting)
        hits = 0
        for q, want in zip(queries, truth, strict=True):
            got = {int(r[0]) for r in conn.execute(search, (q,)).fetchall()}
            hits += len(got & set(want.tolist()))
    recall = hits / (10 * len(queries))

    conns = [psycopg.connect(dsn, autocommit=True) for _ in range(threads)]
    for c in conns:
        c.execute(setting)
        c.execute(search, (queries[0],)).fetchall()  # warm the connection
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker(k: int) -> None:
        start.wait()
        n, i = 0, k
        while time.monotonic() < deadline[0]:
            conns[k].execute(search, (queries[i % len(queries)],)).fetchall()
            n, i = n + 1, i + threads
        counts[k] = n

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    deadline[0] = time.monotonic() + seconds
    t0 = time.monotonic()
    start.wait()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - t0
    for c in conns:
        c.close()
    return recall, sum(counts) / elapsed


def qps_at(points: list[Point], target: float) -> float | None:
    """QPS where the recall curve crosses target, interpolated between neighbouring sweep points."""
    pts = sorted(points, key=lambda p: p.recall)
    for lo, hi in itertools.pairwise(pts):
        if lo.recall < target <= hi.recall:
            f = (target - lo.recall) / (hi.recall - lo.recall)
            return lo.qps + f * (hi.qps - lo.qps)
    best = [p.qps for p in pts if p.recall >= target]
    return max(best) if best else None


def build(conn: psycopg.Connection, ddl: str, work_mem: str = "") -> tuple[float, int]:
    """Build time (s) and index size (bytes); work_mem sets maintenance_work_mem for this build only."""
    conn.execute(f"DROP INDEX IF EXISTS {INDEX}")
    conn.execute("RESET maintenance_work_mem" if not work_mem else f"SET maintenance_work_mem = '{work_mem}'")
    t0 = time.monotonic()
    conn.execute(ddl)
    conn.execute(f"ANALYZE {TABLE}")
    seconds = time.monotonic() - t0
    conn.execute("RESET maintenance_work_mem")
    size = conn.execute("SELECT pg_relation_size(%s::regclass)", (INDEX,)).fetchone()
    return seconds, int(size[0]) if size else 0


def fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000, help="rows to load (1000000 for the seed's size)")
    ap.add_argument("--dim", type=int, default=1536, help="the seed's schema is vector(1536)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=4, help="client threads, one held-open connection each")
    ap.add_argument("--seconds", type=float, default=5.0, help="QPS window per sweep point")
    ap.add_argument("--seed", type=int, default=20240607)
    ap.add_argument("--keep", action="store_true", help="leave the test host running")
    args = ap.parse_args()

    data, qs = latent_mixture(args.rows, args.queries, args.dim, args.seed)
    truth = exact_top10(data, qs)
    queries = [vec(q) for q in qs]
    password = secrets.token_urlsafe(18)
    host = TestHost("bench-pgvector-d13", shm_size="8g").start()
    try:
        run = host.provision({
            "postgresql_app_password": password, "postgresql_listen_addresses": ["*"],
            # The bench network: the controller reaches the host from its gateway address.
            "postgresql_hba_allowed_cidrs": [network_cidr()], "postgresql_embedding_dimension": args.dim,
            "postgresql_pgvector_min_version": "0.8.0",  # Debian 13's package: accepted with a warning
        })
        print(f"provisioned {host.name} in {run.seconds:.0f}s")
        dsn = f"host={host.ip()} port=5432 dbname=colostack user=colostack_app password={password} sslmode=require"
        with psycopg.connect(dsn, autocommit=True) as conn:
            role_ddl = conn.execute("SELECT pg_get_indexdef(%s::regclass)", (INDEX,)).fetchone()
            defaults = {r[0]: int(r[1]) for r in conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('hnsw.ef_search', 'ivfflat.probes')")}
            conn.execute(f"DROP INDEX {INDEX}")
            t0 = time.monotonic()
            copy_binary(conn, data)
            conn.execute(f"ANALYZE {TABLE}")
            print(f"loaded {args.rows} x {args.dim} in {time.monotonic() - t0:.0f}s")

            shown = conn.execute("SHOW maintenance_work_mem").fetchone()
            role_mem = str(shown[0]) if shown else "64MB"
            hnsw_ddl = str(role_ddl[0]) if role_ddl else ""
            # The role's HNSW build with PostgreSQL's default maintenance_work_mem, for the side-by-side.
            default_mem_s, _ = build(conn, hnsw_ddl, "64MB")
            half_ddl = (hnsw_ddl.replace("(embedding vector_cosine_ops)",
                                         f"((embedding::halfvec({args.dim})) halfvec_cosine_ops)"))
            configs = [
                ("role default (hnsw)", hnsw_ddl, "hnsw.ef_search",
                 defaults["hnsw.ef_search"], [10, 20, 40, 64, 100, 200], SEARCH),
                ("hnsw over halfvec", half_ddl, "hnsw.ef_search",
                 defaults["hnsw.ef_search"], [10, 20, 40, 64, 100, 200],
                 SEARCH_HALF.format(table=TABLE, dim=args.dim)),
                ("seed (ivfflat lists=100)",
                 f"CREATE INDEX {INDEX} ON {TABLE} USING ivfflat (embedding vector_cosine_ops) WITH (lists = 100)",
                 "ivfflat.probes", 1, [1, 2, 4, 8, 10, 16, 32], SEARCH),
            ]
            curves: dict[str, list[Point]] = {}
            at_default: dict[str, Point] = {}
            built: dict[str, tuple[float, int]] = {}
            for name, ddl, knob, default, sweep, search in configs:
                built[name] = build(conn, ddl, role_mem)
                print(f"\n{name}: {ddl}\n  built in {built[name][0]:.0f}s, {built[name][1] / 2**20:.0f} MiB")
                curves[name] = []
                for value in sweep:
                    recall, qps = measure(dsn, knob, value, queries, truth, args.threads, args.seconds, search)
                    point = Point(name, knob, value, recall, qps)
                    curves[name].append(point)
                    mark = "  <- default" if value == default else ""
                    print(f"  {knob}={value:<4} recall@10={recall:.3f}  QPS={qps:7.1f}{mark}")
                    if value == default:
                        at_default[name] = point
    finally:
        if not args.keep:
            host.close()

    role, half, seed = (c[0] for c in configs)
    r, s = at_default[role], at_default[seed]
    print(f"\n{args.rows} x {args.dim}, {args.threads} client threads, {args.queries} queries, seed {args.seed}")
    print(f"{'':28}{'size MiB':>9}{'build s':>8}{'recall@10':>10}{'QPS':>9}{'QPS@0.95':>10}{'QPS@0.99':>10}")
    for name in (role, half, seed):
        p = at_default[name]
        print(f"{name:28}{built[name][1] / 2**20:>9.0f}{built[name][0]:>8.0f}{p.recall:>10.3f}{p.qps:>9.1f}"
              f"{fmt(qps_at(curves[name], 0.95), '.1f'):>10}{fmt(qps_at(curves[name], 0.99), '.1f'):>10}")
    print(f"\nhalfvec/vector HNSW: size x{built[half][1] / built[role][1]:.2f}, build x{built[half][0] / built[role][0]:.2f}")
    print(f"HNSW build, maintenance_work_mem {role_mem} (role) vs 64MB (default): "
          f"{built[role][0]:.0f}s vs {default_mem_s:.0f}s, x{built[role][0] / default_mem_s:.2f}")
    ratio95 = [qps_at(curves[n], 0.95) for n in (role, seed)]
    ratio99 = [qps_at(curves[n], 0.99) for n in (role, seed)]
    print(f"\nat defaults, role/seed: recall x{r.recall / s.recall:.2f}, QPS x{r.qps / s.qps:.2f}")
    for target, (a, b) in ((0.95, ratio95), (0.99, ratio99)):
        ratio = f"x{a / b:.2f}" if a and b else "n/a (a curve does not reach it)"
        print(f"QPS at recall {target}, role/seed: {ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
