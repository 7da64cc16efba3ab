"""The restore drill (issue 17): rp-db archives to pg-backup (real pgBackRest over TLS, encrypted
repository); rows are written, backed up, written again, a time is noted, more rows are written,
and playbooks/db_restore.yml restores rp-db to the noted time onto pg-restore, an empty host. The
restored rows, their checksum and the HNSW index's answer to a KNN query equal rp-db's at that time.
Runs after test_recall_probe.py (by name), which reads rp-db's table as the converge left it."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ssh_host

REPO = Path(__file__).resolve().parents[3]
STATE = ("SELECT count(*) || ' ' || md5(string_agg(id::text || ':' || content || ':' || embedding::text, ','"
         " ORDER BY id)) FROM document_embeddings;")


def _psql(host: Any, sql: str) -> list[str]:
    out = host.check_output(f"runuser -u postgres -- psql -X -q -At -d colostack -v ON_ERROR_STOP=1 <<'SQL'\n{sql}\nSQL")
    return [line for line in out.splitlines() if line]


def _insert(host: Any, batch: str, rows: int, embedded: bool = True) -> None:
    vector = "(SELECT array_agg(random() + 0 * g + 0 * i) FROM generate_series(1, 32) AS i)::vector"
    _psql(host, f"INSERT INTO document_embeddings (content, embedding) SELECT '{batch} ' || g,"
                f" {vector if embedded else 'NULL'} FROM generate_series(1, {rows}) AS g;")


def _knn(host: Any, vector: str) -> list[str]:
    """The 10 nearest rows through the HNSW index, with one ef_search on both hosts."""
    return _psql(host, "SET enable_seqscan = off; SET hnsw.ef_search = 40;"
                       f" SELECT id FROM document_embeddings ORDER BY embedding <=> '{vector}'::vector LIMIT 10;")


def _playbook(name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="true")
    return subprocess.run(["ansible-playbook", str(REPO / "playbooks" / name), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
                           *extra], cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def drill() -> dict[str, Any]:
    """Steps 1-6 of the drill; what rp-db held at the noted time, and what the restore did."""
    src = ssh_host("rp-db")
    _insert(src, "drill-a", 100)
    backup = _playbook("db_backup.yml", "-e", "db_backup_stanza=rp-db", "-e", "db_backup_type=incr")
    assert backup.returncode == 0, backup.stdout[-3000:]
    _insert(src, "drill-b", 100)
    vector = _psql(src, "SELECT embedding::text FROM document_embeddings ORDER BY id LIMIT 1;")[0]
    noted = {"state": _psql(src, STATE)[0], "knn": _knn(src, vector),
             "time": _psql(src, "SELECT clock_timestamp();")[0]}
    time.sleep(1.5)
    # Without embeddings: recovery to a time replays WAL up to the first commit after it, so what a later
    # transaction wrote to the index before committing (an HNSW insert rewires its neighbours) is in the
    # restored graph; its rows are invisible, but an approximate search may take another path (seen once).
    _insert(src, "drill-c", 100, embedded=False)
    # The segment holding drill-c is archived at once, not after archive_timeout.
    src.check_output("runuser -u postgres -- pgbackrest --stanza=rp-db check")
    restore = _playbook("db_restore.yml", "-e", "db_restore_source=rp-db", "-e", "db_restore_target=pg-restore",
                        "-e", f"db_restore_time='{noted['time']}'")  # quoted: it has a space
    return {"noted": noted, "vector": vector, "backup": backup, "restore": restore, "now": _psql(src, STATE)[0]}


def test_restore_to_the_noted_time_equals_the_source_then(drill: dict[str, Any]) -> None:
    assert drill["restore"].returncode == 0, drill["restore"].stdout[-4000:]
    target = ssh_host("pg-restore")
    assert _psql(target, "SELECT pg_is_in_recovery();") == ["f"]
    assert _psql(target, STATE)[0] == drill["noted"]["state"]
    assert drill["now"] != drill["noted"]["state"]  # drill-c, after the noted time, is on rp-db only
    assert int(drill["noted"]["state"].split()[0]) == 2200  # 2000 from the converge, drill-a, drill-b
    assert _psql(target, "SELECT count(*) FROM document_embeddings WHERE content LIKE 'drill-c %';") == ["0"]


def test_restored_hnsw_index_answers_the_knn_query_as_the_source_did(drill: dict[str, Any]) -> None:
    target = ssh_host("pg-restore")
    assert _knn(target, drill["vector"]) == drill["noted"]["knn"]
    assert len(drill["noted"]["knn"]) == 10
    plan = "\n".join(_psql(target, "SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM document_embeddings"
                                   f" ORDER BY embedding <=> '{drill['vector']}'::vector LIMIT 10;"))
    assert "Index Scan using document_embeddings_embedding_idx" in plan
    assert _psql(target, "SELECT bool_and(indisvalid) FROM pg_index WHERE indrelid = 'document_embeddings'::regclass;") == ["t"]


def test_backups_are_encrypted_scheduled_and_listed(drill: dict[str, Any]) -> None:
    repo = ssh_host("pg-backup")
    # OpenSSL's salted format: pgBackRest's aes-256-cbc repository files, info files included.
    assert repo.check_output("head -c 8 /var/lib/pgbackrest/backup/rp-db/backup.info") == "Salted__"
    for kind in ("full", "incr"):
        assert repo.check_output(f"systemctl is-enabled colostack-pgbackrest-{kind}@rp-db.timer") == "enabled"
    listing = drill["backup"].stdout
    assert "full backup:" in listing and "incr backup:" in listing


def test_restore_leaves_no_repository_access_and_refuses_a_host_with_databases(drill: dict[str, Any]) -> None:
    target = ssh_host("pg-restore")
    assert not target.file("/etc/pgbackrest/tls/restore.key").exists
    again = _playbook("db_restore.yml", "-e", "db_restore_source=rp-db", "-e", "db_restore_target=pg-restore")
    out = " ".join(again.stdout.split())
    assert again.returncode == 2
    assert "cluster holds 1 database(s) of its own" in out
    assert "Install pgBackRest" not in out  # refused before the target changed
    assert not target.file("/etc/pgbackrest/tls/restore.key").exists
    assert _psql(target, STATE)[0] == drill["noted"]["state"]
