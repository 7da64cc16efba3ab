"""pgvector 0.8.0 (Debian 13's package) to 0.8.3 (built by prepare.yml from Debian's source) under the
postgresql role: an operator installs the newer package, the next converge updates the extension
(ALTER EXTENSION vector UPDATE) and, as 0.8.3 is the HNSW vacuum fix, rebuilds the HNSW index once.
Rows, their checksum and the index's answers are the same before and after."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

SCENARIO = Path(__file__).resolve().parents[1]
DEB = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "deb" / "postgresql-17-pgvector_0.8.3-0colostack1_amd64.deb"
QUERY = "'[" + ",".join(["0.5"] * 16) + "]'"
NEAREST = f"SELECT id FROM document_embeddings ORDER BY embedding <=> {QUERY} LIMIT 10"
KNN = f"SET enable_seqscan = off; SELECT string_agg(id::text, ',') FROM ({NEAREST}) t"
CHECKSUM = "SELECT count(*) || ':' || md5(string_agg(id || content || embedding::text, ',' ORDER BY id)) FROM document_embeddings"


def sql(host: Any, query: str) -> str:
    done = host.run("runuser -u postgres -- psql -X -At -d colostack -c %s", query)
    assert done.rc == 0, done.stderr
    return str(done.stdout).strip().splitlines()[-1]


def converge() -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ansible-playbook", str(SCENARIO / "converge.yml"), "-i", os.environ["MOLECULE_INVENTORY_FILE"]],
                          capture_output=True, text=True, timeout=900, check=False, cwd=SCENARIO)


def changed(run: subprocess.CompletedProcess[str]) -> int:
    found = re.search(r"pgu-d13\s*:\s*ok=\d+\s+changed=(\d+)", run.stdout)
    assert found, run.stdout[-3000:]
    return int(found[1])


def test_an_upgrade_of_the_package_updates_the_extension_and_rebuilds_the_hnsw_index(host):
    assert sql(host, "SELECT extversion FROM pg_extension WHERE extname = 'vector'") == "0.8.0"
    sql(host, "INSERT INTO document_embeddings (content, embedding) SELECT 'doc ' || g, "
              "(SELECT array_agg(random() + 0 * g + 0 * i) FROM generate_series(1, 16) AS i)::vector "
              "FROM generate_series(1, 3000) AS g")
    index = "document_embeddings_embedding_idx"
    before = {"rows": sql(host, CHECKSUM), "knn": sql(host, KNN),
              "file": sql(host, f"SELECT pg_relation_filenode('{index}')")}
    assert "Index Scan using " + index in host.run(
        "runuser -u postgres -- psql -X -At -d colostack -c %s", f"SET enable_seqscan = off; EXPLAIN {NEAREST}").stdout

    # What an operator does with a newer pgvector package: release the hold the role set, install it.
    assert subprocess.run(["scp", "-F", os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "ssh", "config"),
                           str(DEB), "pgu-d13:/tmp/pgvector.deb"], capture_output=True, check=False).returncode == 0
    host.check_output("apt-mark unhold postgresql-17-pgvector && apt-get install -y -q /tmp/pgvector.deb")
    # The server keeps the old SQL objects until the extension is updated.
    assert sql(host, "SELECT extversion FROM pg_extension WHERE extname = 'vector'") == "0.8.0"

    run = converge()
    assert run.returncode == 0, run.stdout[-4000:]
    rebuild = run.stdout.split("Rebuild the HNSW index once pgvector moved past the vacuum fix]", 1)[1]
    assert "changed: [pgu-d13]" in rebuild.split("TASK [", 1)[0], run.stdout[-4000:]
    assert sql(host, "SELECT extversion FROM pg_extension WHERE extname = 'vector'") == "0.8.3"
    assert sql(host, f"SELECT indisvalid FROM pg_index WHERE indexrelid = '{index}'::regclass") == "t"
    assert sql(host, f"SELECT pg_relation_filenode('{index}')") != before["file"]  # rebuilt
    assert sql(host, CHECKSUM) == before["rows"]
    assert sql(host, KNN) == before["knn"]
    assert "postgresql-17-pgvector" in host.check_output("apt-mark showhold").split()  # held again

    assert changed(converge()) == 0  # once: the next run neither updates nor rebuilds
