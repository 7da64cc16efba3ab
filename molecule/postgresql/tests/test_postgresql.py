"""The postgresql role on a Debian 13 host, exercised from two other hosts on the same network.

Remote checks run psql inside the client container (postgresql-client), so every connection
crosses the Podman network and meets the server's hostssl / pgbouncer TLS rules. The allowlist
names only the client's address; postgresql-offlist, a third host on the same network, is refused.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shlex
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

testinfra_hosts = ["postgresql-d13"]
# Every test takes the host, so they run in file order (pytest groups tests by testinfra's host
# parameter): the checks of the converged host first, the re-converge runs after, halfvec last.
pytestmark = pytest.mark.usefixtures("host")

SCENARIO = Path(__file__).resolve().parent.parent
REPO = SCENARIO.parent.parent
VARS: dict[str, Any] = yaml.safe_load((SCENARIO / "vars" / "scenario.yml").read_text())
DB_HOST = "postgresql-d13"
CLIENT = "postgresql-client"
OFFLIST = "postgresql-offlist"
# The scenario's SSH config (molecule/shared/create.yml): psql runs on the client host over SSH.
SSH_CONFIG = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "ssh", "config")
PASSWORD = VARS["postgresql_app_password"]
DIM = 1536  # role default
CONFIG_FILES = (
    "/etc/postgresql/17/main/conf.d/10-colostack-restart.conf",
    "/etc/postgresql/17/main/conf.d/20-colostack.conf",
    "/etc/postgresql/17/main/pg_hba.conf",
    "/etc/pgbouncer/pgbouncer.ini",
    "/etc/pgbouncer/pgbouncer_hba.conf",
    "/etc/pgbouncer/userlist.txt",
)


def remote_psql(
    sql: str,
    *,
    port: int = 6432,
    sslmode: str = "require",
    password: str = PASSWORD,
    user: str = "colostack_app",
    client: str = CLIENT,
    db: str = "colostack",
) -> subprocess.CompletedProcess[str]:
    """Run SQL with psql on a client host (by default the allowed one) against the database host."""
    conninfo = f"host={DB_HOST} port={port} dbname={db} user={user} sslmode={sslmode} connect_timeout=10"
    cmd = ["ssh", "-F", SSH_CONFIG, client, "env", f"PGPASSWORD={password}",
           "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", shlex.quote(conninfo)]
    return subprocess.run(cmd, input=sql, capture_output=True, text=True, timeout=300, check=False)


def ok(sql: str) -> list[str]:
    proc = remote_psql(sql)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def vec(values: list[float]) -> str:
    return "[" + ",".join(f"{v:.5f}" for v in values) + "]"


def random_vectors(seed: int, n: int) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.gauss(0.0, 1.0) for _ in range(DIM)] for _ in range(n)]


def cosine_distance(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return 1.0 - dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def insert_sql(tag: str, vectors: list[list[float]]) -> str:
    rows = ",\n".join(f"('{tag}-{i}', '{vec(v)}', 'test://{tag}/{i}')" for i, v in enumerate(vectors))
    return f"INSERT INTO document_embeddings (content, embedding, source_uri) VALUES\n{rows};\n"


def nearest_sql(query: list[float]) -> str:
    # SET LOCAL inside a transaction is what survives pgbouncer transaction pooling.
    return (
        "BEGIN;\nSET LOCAL enable_seqscan = off;\n"
        f"EXPLAIN (COSTS OFF) SELECT content FROM document_embeddings ORDER BY embedding <=> '{vec(query)}' LIMIT 1;\n"
        f"SELECT content FROM document_embeddings ORDER BY embedding <=> '{vec(query)}' LIMIT 1;\n"
        "COMMIT;\n"
    )


def knn_roundtrip(seed: int, tag: str) -> None:
    vectors = random_vectors(seed, 40)
    ok(insert_sql(tag, vectors))
    rng = random.Random(seed + 1)
    target = rng.randrange(len(vectors))
    query = [x + rng.gauss(0.0, 0.1) for x in vectors[target]]
    expected = min(range(len(vectors)), key=lambda i: cosine_distance(vectors[i], query))
    out = remote_psql(nearest_sql(query))
    assert out.returncode == 0, out.stderr
    assert "Index Scan using document_embeddings_embedding_idx" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == f"{tag}-{expected}"


def superuser_sql(host: Any, sql: str, db: str = "colostack") -> str:
    cmd = host.run("runuser -u postgres -- psql -X -At -d %s -c %s", db, sql)
    assert cmd.rc == 0, cmd.stderr
    return str(cmd.stdout).strip()


def host_snapshot(host: Any) -> str:
    """Config file checksums and service start times: any change by a run shows here."""
    files = host.run("sha256sum %s", " ".join(CONFIG_FILES)).stdout
    starts = host.run(
        "systemctl show -p ActiveEnterTimestamp postgresql@17-main pgbouncer colostack-pg-maintenance.timer"
    ).stdout
    return str(files) + str(starts)


def run_role(tmp_path: Path, extra_vars: dict[str, Any], drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run the role against the live test host with the scenario's vars plus overrides."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([
        {"name": "Read the client host's address", "hosts": "clients", "gather_facts": True, "tasks": []},
        {"name": "Apply the postgresql role", "hosts": "databases", "roles": ["postgresql"]}]))
    values = {k: v for k, v in {**VARS, **extra_vars}.items() if k not in drop}
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(REPO / "roles"), ANSIBLE_FORCE_COLOR="false",
               ANSIBLE_CACHE_PLUGIN="memory", NO_COLOR="1")
    return subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(playbook), "-e", json.dumps(values)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
    )


def test_postgresql_and_pgbouncer_are_running(host: Any) -> None:
    for unit in ("postgresql@17-main", "pgbouncer"):
        assert host.service(unit).is_running, unit
        assert host.service(unit).is_enabled, unit
    assert host.socket("tcp://0.0.0.0:5432").is_listening
    assert host.socket("tcp://0.0.0.0:6432").is_listening


def test_pgvector_is_at_least_0_8(host: Any) -> None:
    version = superuser_sql(host, "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    assert tuple(int(p) for p in version.split(".")[:2]) >= (0, 8), version


def test_major_version_is_pinned(host: Any) -> None:
    held = host.run("apt-mark showhold").stdout.split()
    assert {"postgresql-17", "postgresql-17-pgvector"} <= set(held)
    assert superuser_sql(host, "SHOW server_version_num").startswith("17")


def test_table_has_the_seed_schema(host: Any) -> None:
    cols = superuser_sql(host, (
        "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) "
        "FROM pg_attribute WHERE attrelid = 'document_embeddings'::regclass AND attnum > 0"
    ))
    assert cols == (
        "id uuid, content text, embedding vector(1536), source_uri character varying(255), "
        "metadata jsonb, created_at timestamp with time zone, content_tsv tsvector"  # the last: postgresql_hybrid_search
    )
    assert superuser_sql(host, "SELECT tableowner FROM pg_tables WHERE tablename = 'document_embeddings'") == "colostack_app"


def test_knn_through_pgbouncer_over_tls_returns_the_nearest_neighbour() -> None:
    knn_roundtrip(seed=1234, tag=f"knn-{uuid.uuid4().hex[:8]}")


def test_server_defaults_reach_pooled_sessions() -> None:
    assert ok("SHOW hnsw.ef_search;") == ["40"]
    assert ok("SHOW ssl;") == ["on"]


def test_wrong_password_is_refused() -> None:
    for port in (6432, 5432):
        proc = remote_psql("SELECT 1;", port=port, password="not-the-password")
        assert proc.returncode != 0
        assert re.search(r"(password|SASL) authentication failed", proc.stderr), (port, proc.stderr)


@pytest.mark.parametrize("port", [5432, 6432])
def test_remote_connection_without_tls_is_refused(port: int) -> None:
    proc = remote_psql("SELECT 1;", port=port, sslmode="disable")
    assert proc.returncode != 0
    assert re.search(r"no encryption|rejects connection|SSL required", proc.stderr), proc.stderr


def client_address(host: Any, name: str) -> str:
    return str(host.run("getent ahostsv4 %s", name).stdout.split()[0])


def hostssl_sources(host: Any, path: str) -> list[str]:
    lines = str(host.file(path).content_string).splitlines()
    return [line.split()[3] for line in lines if line.startswith("hostssl")]


def test_pg_hba_and_pgbouncer_hba_allow_only_loopback_and_the_client(host: Any) -> None:
    expected = ["127.0.0.1/32", "::1/128", f"{client_address(host, CLIENT)}/32"]
    assert hostssl_sources(host, "/etc/postgresql/17/main/pg_hba.conf") == expected
    assert hostssl_sources(host, "/etc/pgbouncer/pgbouncer_hba.conf") == expected
    ini = host.file("/etc/pgbouncer/pgbouncer.ini").content_string
    assert re.search(r"^auth_type = hba$", ini, re.MULTILINE), ini
    assert re.search(r"^auth_hba_file = /etc/pgbouncer/pgbouncer_hba.conf$", ini, re.MULTILINE), ini


@pytest.mark.parametrize(("port", "message"), [
    (5432, r'no pg_hba.conf entry for host "([0-9.]+)"'),
    (6432, r"no authentication method is found"),  # pgbouncer: no HBA line for the source
])
def test_an_off_list_source_is_refused_by_postgresql_and_pgbouncer(host: Any, port: int, message: str) -> None:
    """Same network, right password, TLS: the host is not on the allowlist, so no connection."""
    allowed = remote_psql("SELECT 1;", port=port)
    assert allowed.returncode == 0, allowed.stderr
    proc = remote_psql("SELECT 1;", port=port, client=OFFLIST)
    assert proc.returncode != 0, proc.stdout
    found = re.search(message, proc.stderr)
    assert found, proc.stderr
    if port == 5432:
        assert found.group(1) == client_address(host, OFFLIST)


def test_superuser_cannot_log_in_remotely() -> None:
    proc = remote_psql("SELECT 1;", port=5432, user="postgres", password="anything")
    assert proc.returncode != 0
    assert "no pg_hba.conf entry" in proc.stderr, proc.stderr


def test_bloat_report_compares_index_to_raw_vectors(host: Any) -> None:
    ok(insert_sql(f"bloat-{uuid.uuid4().hex[:8]}", random_vectors(7, 20)))
    out = host.run("colostack-pg-bloat-report -At -F '|'")
    assert out.rc == 0, out.stderr
    kinds = {line.split("|")[0]: line.split("|") for line in str(out.stdout).splitlines()}
    assert "document_embeddings_embedding_idx" in kinds
    assert kinds["document_embeddings_embedding_idx"][1] == "index"
    assert float(kinds["document_embeddings_embedding_idx"][4]) > 0
    assert int(kinds["document_embeddings"][5]) >= 20


def test_maintenance_timer_runs_vacuum(host: Any) -> None:
    assert host.service("colostack-pg-maintenance.timer").is_running
    run = host.run("systemctl start colostack-pg-maintenance.service")
    assert run.rc == 0, run.stderr
    vacuumed = superuser_sql(host, "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'document_embeddings'")
    assert vacuumed == "t"


BAD_VARIABLES = [
    ({"postgresql_embedding_dimension": 0}, (), "postgresql_embedding_dimension"),
    ({"postgresql_embedding_dimension": 20000}, (), "postgresql_embedding_dimension"),
    ({"postgresql_index_method": "annoy"}, (), "postgresql_index_method"),
    ({"postgresql_ivfflat_lists": -5}, (), "postgresql_ivfflat_lists"),
    ({"postgresql_hba_allowed_cidrs": ["10.0.0.0/33"]}, (), "postgresql_hba_allowed_cidrs"),
    ({"postgresql_hba_allowed_cidrs": ["10.89.0.0/24", "0.0.0.0/0"]}, (), "postgresql_hba_allowed_cidrs"),
    ({"postgresql_hba_allowed_cidrs": ["::0/0"]}, (), "postgresql_hba_allowed_cidrs"),
    ({}, ("postgresql_app_password",), "postgresql_app_password"),
    # The role's own floor: Debian 13's pgvector 0.8.0 predates the HNSW vacuum fix.
    ({}, ("postgresql_pgvector_min_version",), "postgresql_pgvector_min_version"),
]


@pytest.mark.parametrize(("extra", "drop", "name"), BAD_VARIABLES, ids=[
    "dimension-0", "dimension-20000", "unknown-index-method", "negative-lists", "malformed-cidr", "any-address-ipv4",
    "any-address-ipv6", "missing-password", "pgvector-0.8.0-below-the-default-floor"])
def test_bad_variable_fails_validation_before_any_change(
    host: Any, tmp_path: Path, extra: dict[str, Any], drop: tuple[str, ...], name: str
) -> None:
    before = host_snapshot(host)
    run = run_role(tmp_path, extra, drop)
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    failed_task = re.findall(r"TASK \[postgresql : ([^\]]+)\]", out)[-1]
    assert failed_task.startswith(("Validating arguments", "Check")), failed_task
    assert name in out.split(f"TASK [postgresql : {failed_task}]")[-1], out[-3000:]
    assert re.search(r"changed=0\s", out), out[-1500:]
    assert host_snapshot(host) == before


def test_rows_survive_reconverge_with_new_tuning_and_index_params(host: Any, tmp_path: Path) -> None:
    tag = f"keep-{uuid.uuid4().hex[:8]}"
    ok(insert_sql(tag, random_vectors(99, 300)))
    count_sql = f"SELECT count(*) FROM document_embeddings WHERE content LIKE '{tag}-%';"
    total_before = ok("SELECT count(*) FROM document_embeddings;")
    assert ok(count_sql) == ["300"]

    run = run_role(tmp_path, {"postgresql_shared_buffers_mb": 256, "postgresql_work_mem_mb": 24,
                              "postgresql_hnsw_m": 24, "postgresql_hnsw_ef_construction": 96})
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    # The scenario accepts Debian 13's pgvector 0.8.0 below the floor: every run says so.
    assert "WARNING: postgresql_pgvector_min_version is 0.8.0: pgvector before 0.8.3 can corrupt" in " ".join(run.stdout.split())

    assert ok(count_sql) == ["300"]
    assert ok("SELECT count(*) FROM document_embeddings;") == total_before
    assert ok("SHOW work_mem;") == ["24MB"]
    assert ok("SHOW shared_buffers;") == ["256MB"]
    indexdef = superuser_sql(host, "SELECT pg_get_indexdef('document_embeddings_embedding_idx'::regclass)")
    assert "WITH (m='24', ef_construction='96')" in indexdef
    knn_roundtrip(seed=4321, tag=f"after-{uuid.uuid4().hex[:8]}")


def test_hybrid_search_fuses_full_text_and_vector_ranks(host: Any) -> None:
    """postgresql_hybrid_search (on since the converge; the idempotence step re-ran it): every row,
    including those the tests inserted since, has its tsvector. B is the query vector itself, C is
    next to it and has the query's word, A has the word twice and a far vector. Only C is in both
    rankings, so reciprocal rank fusion puts it first; A and B follow with one list's score each."""
    assert ok("SELECT count(*) FROM document_embeddings WHERE content_tsv IS NULL;") == ["0"]

    word = f"zq{uuid.uuid4().hex[:10]}"
    rng = random.Random(5150)  # a seed no other test inserts rows from: B's vector must be unique
    query = [rng.gauss(0.0, 1.0) for _ in range(DIM)]
    near = [x + rng.gauss(0.0, 0.01) for x in query]
    far = [rng.gauss(0.0, 1.0) for _ in range(DIM)]
    ok("INSERT INTO document_embeddings (content, embedding) VALUES "
       f"('{word} {word} hybrid-A', '{vec(far)}'), ('plain hybrid-B', '{vec(query)}'), ('{word} hybrid-C', '{vec(near)}');")
    out = remote_psql(f"SELECT d.content || '|' || h.score FROM hybrid_search('{word}', '{vec(query)}', 3) AS h "
                      "JOIN document_embeddings AS d USING (id) ORDER BY h.score DESC, d.content;")
    assert out.returncode == 0, out.stderr
    contents = [line.rsplit("|", 1)[0] for line in out.stdout.strip().splitlines()]
    scores = [float(line.rsplit("|", 1)[1]) for line in out.stdout.strip().splitlines()]
    assert contents[0] == f"{word} hybrid-C"
    assert set(contents[1:]) == {f"{word} {word} hybrid-A", "plain hybrid-B"}
    # C: vector rank 2, full-text rank 1 or 2; A and B: one list each, rank 1 or 2.
    assert any(abs(scores[0] - (1 / 62 + 1 / (60 + r))) < 1e-9 for r in (1, 2))
    assert all(any(abs(s - 1 / (60 + r)) < 1e-9 for r in (1, 2)) for s in scores[1:])


def test_ivfflat_lists_from_rows_probes_in_pooled_sessions_and_reindex_from_the_timer(host: Any, tmp_path: Path) -> None:
    """It leaves the colostack database's index ivfflat. lists = 50000 rows / 1000,
    probes = round(sqrt(50)); the maintenance unit rebuilds the index (REINDEX CONCURRENTLY)."""
    total_before = ok("SELECT count(*) FROM document_embeddings;")
    run = run_role(tmp_path, {"postgresql_index_method": "ivfflat", "postgresql_ivfflat_expected_rows": 50000,
                              "postgresql_maintenance_reindex": True})
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    indexdef = superuser_sql(host, "SELECT pg_get_indexdef('document_embeddings_embedding_idx'::regclass)")
    assert "USING ivfflat (embedding vector_cosine_ops) WITH (lists='50')" in indexdef
    assert ok("SHOW ivfflat.probes;") == ["7"]  # through pgbouncer: the server default reaches pooled sessions
    assert ok("SELECT count(*) FROM document_embeddings;") == total_before

    filenode = "SELECT pg_relation_filenode('document_embeddings_embedding_idx')"
    before = superuser_sql(host, filenode)
    run_unit = host.run("systemctl start colostack-pg-maintenance.service")
    assert run_unit.rc == 0, run_unit.stderr
    assert superuser_sql(host, filenode) != before  # rebuilt: a new file under the same name
    assert superuser_sql(host, "SELECT indisvalid FROM pg_index WHERE indexrelid = "
                               "'document_embeddings_embedding_idx'::regclass") == "t"
    knn_roundtrip(seed=777, tag=f"ivf-{uuid.uuid4().hex[:8]}")


def test_halfvec_column_and_hnsw_index_beyond_the_vector_limit(host: Any, tmp_path: Path) -> None:
    """halfvec(3000), past the 2000 dimensions an HNSW index on vector allows, in a database of its
    own (the role refuses to change an existing column's type): the role makes the column and a
    halfvec_cosine_ops index, pgbouncer serves the new database, and a KNN query through it uses the
    index and finds the nearest of 40 random rows. The last test on the host: pgbouncer then serves
    colostack_half only."""
    dim, db = 3000, "colostack_half"
    run = run_role(tmp_path, {"postgresql_app_db": db, "postgresql_embedding_type": "halfvec",
                              "postgresql_embedding_dimension": dim})
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert superuser_sql(host, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                               "'document_embeddings'::regclass AND attname = 'embedding'", db) == f"halfvec({dim})"
    assert "USING hnsw (embedding halfvec_cosine_ops)" in superuser_sql(
        host, "SELECT pg_get_indexdef('document_embeddings_embedding_idx'::regclass)", db)
    rng = random.Random(3000)
    vectors = [[rng.gauss(0.0, 1.0) for _ in range(dim)] for _ in range(40)]
    inserted = remote_psql(insert_sql("half", vectors), db=db)
    assert inserted.returncode == 0, inserted.stderr
    target = rng.randrange(len(vectors))
    query = [x + rng.gauss(0.0, 0.1) for x in vectors[target]]
    expected = min(range(len(vectors)), key=lambda i: cosine_distance(vectors[i], query))
    out = remote_psql(nearest_sql(query), db=db)
    assert out.returncode == 0, out.stderr
    assert "Index Scan using document_embeddings_embedding_idx" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == f"half-{expected}"
