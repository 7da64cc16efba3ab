"""recall-probe's pure logic and argument errors (the real-database checks are in the Molecule
scenario postgresql, host rp-db, which compares the probe's value with a recall it computes
itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from colostack.errors import UserError
from colostack.recall.command import write_prom
from colostack.recall.probe import ProbeConfig, ProbeResult, name_in_plan
from colostack.recall.score import mean, recall_at_k


def test_recall_counts_the_exact_neighbours_the_index_found() -> None:
    exact = [str(i) for i in range(10)]
    assert recall_at_k(exact, exact, 10) == 1.0
    assert recall_at_k([*exact[:7], "x", "y", "z"], exact, 10) == 0.7
    assert recall_at_k(list(reversed(exact)), exact, 10) == 1.0  # order inside top-k is free


def test_recall_looks_only_at_the_first_k_of_each_list() -> None:
    assert recall_at_k(["a", "b", "x"], ["a", "b", "c"], 2) == 1.0
    assert recall_at_k(["x", "a"], ["a", "b"], 1) == 0.0


def test_recall_with_fewer_rows_than_k_divides_by_what_exists() -> None:
    assert recall_at_k(["a", "b"], ["b", "a"], 10) == 1.0
    assert recall_at_k([], [], 10) == 1.0


def test_recall_refuses_k_below_one() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        recall_at_k([], [], 0)


def test_mean_of_no_queries_is_none() -> None:
    assert mean([]) is None
    assert mean([1.0, 0.5]) == 0.75


@pytest.mark.parametrize("field", ["table", "column", "id_column"])
def test_config_refuses_names_that_are_not_plain_sql_names(field: str) -> None:
    with pytest.raises(UserError, match="expected a lower-case SQL name"):
        ProbeConfig(**{field: "docs; DROP TABLE x"})  # type: ignore[arg-type]


def test_plan_walk_finds_the_index_in_a_nested_plan() -> None:
    plan = [{"Plan": {"Node Type": "Limit", "Plans": [
        {"Node Type": "Index Scan", "Index Name": "document_embeddings_embedding_idx"}]}}]
    assert name_in_plan(plan, "document_embeddings_embedding_idx")
    assert not name_in_plan([{"Plan": {"Node Type": "Seq Scan"}}], "idx")


def _result(recall: float | None) -> ProbeResult:
    return ProbeResult("document_embeddings", "idx", "hnsw", "<=>", 10, "hnsw.ef_search", "40",
                       0 if recall is None else 3, recall, recall, True, 0.1, "now")


def test_textfile_has_recall_at_10_per_table_and_a_timestamp(tmp_path: Path) -> None:
    write_prom(_result(0.9), tmp_path / "r.prom")
    text = (tmp_path / "r.prom").read_text()
    assert 'colostack_pgvector_recall{k="10",table="document_embeddings"} 0.9' in text
    assert ('colostack_pgvector_recall_last_run_timestamp_seconds{table="document_embeddings"}'
            in text)
    assert 'colostack_pgvector_recall_index_scan_used{table="document_embeddings"} 1.0' in text


def test_textfile_of_an_empty_table_has_no_recall_sample(tmp_path: Path) -> None:
    write_prom(_result(None), tmp_path / "r.prom")
    text = (tmp_path / "r.prom").read_text()
    assert "colostack_pgvector_recall{" not in text
    assert 'colostack_pgvector_recall_queries{table="document_embeddings"} 0.0' in text


@pytest.mark.parametrize(("argv", "names"), [
    (["-k", "0"], "argument -k"),
    (["--sample", "-1"], "argument --sample"),
    (["--ef-search", "40", "--probes", "3"], "not allowed with argument --ef-search"),
    (["--statement-timeout", "0"], "argument --statement-timeout"),
    (["--table", "Docs;drop"], "table 'Docs;drop'"),
    (["--dsn", "host=127.0.0.1 port=1 dbname=x connect_timeout=2"], "database"),
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], names: str) -> None:
    run = subprocess.run([sys.executable, "-m", "colostack", "recall-probe", *argv],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and names in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
