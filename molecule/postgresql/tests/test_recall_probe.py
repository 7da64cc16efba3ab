"""The recall probe on a real PostgreSQL + pgvector host (rp-db, the scenario's small-HNSW database
host): its recall@10 equals the one this test computes itself over the same sampled rows, with its
own index and exact queries."""

from __future__ import annotations

import json
import re

testinfra_hosts = ["rp-db"]
PROM = "/var/lib/prometheus/node-exporter/colostack_pgvector_recall.prom"
PROBE = ("/usr/local/bin/colostack recall-probe "
         "--dsn 'host=/var/run/postgresql user=postgres dbname=colostack' --sample 25")
GAUGE = re.compile(r'^colostack_pgvector_recall\{k="10",table="document_embeddings"\} (\S+)$',
                   re.MULTILINE)


def _psql(host, script: str) -> list[str]:
    out = host.check_output(f"runuser -u postgres -- psql -X -q -At -d colostack -v ON_ERROR_STOP=1 "
                            f"<<'SQL'\n{script}\nSQL")
    return [line for line in out.splitlines() if line]


def _vector(host, row_id: str) -> str:
    return _psql(host, f"SELECT embedding::text FROM document_embeddings WHERE id = '{row_id}';")[0]


def _top10(host, vector: str, *, use_index: bool, explain: bool = False) -> list[str]:
    """This test's own query, with the vector as a literal: the index (sequential scans off,
    the server's ef_search) or an exact scan (every index off)."""
    planner = ("SET enable_seqscan = off;" if use_index else
               "SET enable_indexscan = off; SET enable_bitmapscan = off; "
               "SET enable_indexonlyscan = off;")
    return _psql(host, f"""{planner}
{'EXPLAIN (COSTS OFF)' if explain else ''} SELECT id FROM document_embeddings
 ORDER BY embedding <=> '{vector}'::vector LIMIT 10;""")


def _probe(host, extra: str = "") -> dict:
    return json.loads(host.check_output(f"{PROBE} {extra}"))


def test_reported_recall_matches_recall_computed_by_the_test(host):
    report = _probe(host)
    assert report["queries"] == 25 and len(report["query_ids"]) == 25
    assert report["index"] == "document_embeddings_embedding_idx" and report["method"] == "hnsw"
    assert report["setting"] == "hnsw.ef_search" and report["setting_value"] == "10"
    assert report["index_scan_used"] is True
    own = []
    for row_id in report["query_ids"]:
        vector = _vector(host, row_id)
        approx = _top10(host, vector, use_index=True)
        exact = _top10(host, vector, use_index=False)
        assert len(exact) == 10
        own.append(len(set(approx) & set(exact)) / 10)
    plan = "\n".join(_top10(host, vector, use_index=True, explain=True))
    assert "Index Scan using document_embeddings_embedding_idx" in plan
    assert report["per_query"] == own
    assert abs(report["recall"] - sum(own) / len(own)) < 1e-9


def test_index_approximates_at_ef_search_10_and_ef_search_is_per_run(host):
    low = _probe(host)
    high = _probe(host, "--ef-search 400")
    assert high["setting_value"] == "400"
    assert low["recall"] < 1.0  # m=4, ef_search=10: the probe sees a real index miss neighbours
    # The session keeps the server's value: SET LOCAL ended with each transaction.
    assert _psql(host, "SHOW hnsw.ef_search;") == ["10"]


def test_timer_run_writes_the_textfile_and_the_journal(host):
    assert host.service("colostack-recall-probe.timer").is_enabled
    assert host.service("colostack-recall-probe.timer").is_running
    host.check_output("systemctl start colostack-recall-probe.service")
    prom = host.file(PROM)
    assert prom.mode == 0o644
    value = float(GAUGE.search(prom.content_string).group(1))
    assert 0 < value <= 1
    assert "colostack_pgvector_recall_last_run_timestamp_seconds{" in prom.content_string
    journal = host.check_output("journalctl -u colostack-recall-probe.service -o cat --no-pager")
    assert f'"recall": {value}' in journal or f'"recall": {value:.1f}' in journal


def test_wrong_search_setting_is_one_line_and_exit_2(host):
    run = host.run(f"{PROBE} --probes 3")
    assert run.rc == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "reads hnsw.ef_search, not ivfflat.probes" in run.stderr


def test_unreachable_database_is_one_line_and_exit_2(host):
    run = host.run("/usr/local/bin/colostack recall-probe --dsn 'host=127.0.0.1 port=1 dbname=x'")
    assert run.rc == 2 and run.stderr.count("\n") == 1 and "database" in run.stderr
