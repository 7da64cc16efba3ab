"""colostack loadtest against the STAND-IN vLLM server (tests/fixtures/vllm_standin), in-process.

The latencies are the stand-in's latency model, not a GPU's; these tests prove the load test's
counting, bounds, SLO verdicts, outputs and error contract.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from colostack.cli import main
from colostack.loadtest.stats import Sample, Slo, percentile, summarise

STANDIN = Path(__file__).resolve().parents[2] / "tests/fixtures/vllm_standin"
sys.path.insert(0, str(STANDIN))
from vllm_standin.server import State, make_handler  # type: ignore[import-not-found]  # noqa: E402

KEY = "k" * 16


@contextmanager
def standin(**kw: float) -> Iterator[str]:
    state = State(
        "m",
        kw.get("token_delay", 0.005),
        KEY,
        int(kw.get("max_num_seqs", 64)),
        kw.get("prefill_rate", 0.0),
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key"
    path.write_text(KEY + "\n")
    # Short answers keep the tests quick: a streamed chat and a plain completion, 10 tokens each.
    (tmp_path / "mix.yml").write_text(
        "shapes:\n  - {kind: chat, stream: true, max_tokens: 10}\n"
        "  - {kind: completion, stream: false, max_tokens: 10}\n"
    )
    return path


def loadtest(url: str, key_file: Path, *extra: str) -> int:
    return main(
        [
            "loadtest",
            "--url",
            url,
            "--model",
            "m",
            "--api-key-file",
            str(key_file),
            "--mix",
            str(key_file.parent / "mix.yml"),
            *extra,
        ]
    )


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50, 95, 99)
    assert percentile([], 50) is None


def test_summary_counts_errors_and_slo_breaks() -> None:
    samples = [
        Sample(0, 0.1, 0.5, 10, 0.04),
        Sample(0, 0.3, 0.9, 10, 0.06),
        Sample(0, 1.0, 1.0, 0, None, error="APIConnectionError"),
    ]
    s = summarise(samples, 2.0, Slo(ttft_p95_s=0.2, max_error_rate=0.5))
    assert (s.requests, s.errors, s.tokens_per_s) == (3, 1, 10.0)
    assert s.slo_break_rate == pytest.approx(2 / 3)  # one slow, one failed
    assert s.failures == ["ttft p95 300 ms > 200 ms"] and not s.slo_met


def test_closed_loop_run_is_bounded_and_meets_a_loose_slo(
    key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run.json"
    html = tmp_path / "run.html"
    with standin() as url:
        code = loadtest(
            url,
            key_file,
            "--concurrency",
            "4",
            "--requests",
            "24",
            "--duration",
            "60",
            "--slo-ttft-p95-ms",
            "5000",
            "--json",
            str(out),
            "--html",
            str(html),
        )
    assert code == 0, capsys.readouterr()
    data = json.loads(out.read_text())
    summary = data["summary"]
    assert (summary["requests"], summary["errors"]) == (24, 0)  # exactly the bound, none failed
    assert summary["tokens_per_s"] > 0
    assert summary["ttft_s"]["p50"] <= summary["ttft_s"]["p95"] <= summary["ttft_s"]["p99"]
    streamed = [s for s in data["samples"] if s["itl"] is not None]
    assert streamed and all(s["ttft"] < s["e2e"] for s in streamed)
    page = html.read_text()
    assert "SLO met" in page and "<svg" in page and "p95" in page


def test_a_strict_slo_fails_with_the_reason(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with standin(prefill_rate=2000) as url:  # 128-token prompts: ~64 ms before the first token
        code = loadtest(
            url, key_file, "--rate", "20", "--requests", "10", "--slo-ttft-p95-ms", "10"
        )
    assert code == 1
    assert "ttft p95" in capsys.readouterr().err


def test_queueing_above_max_num_seqs_shows_in_time_to_first_token(
    key_file: Path, tmp_path: Path
) -> None:
    runs = {}
    for seqs in (8, 1):
        out = tmp_path / f"q{seqs}.json"
        with standin(max_num_seqs=seqs, token_delay=0.02) as url:
            loadtest(
                url,
                key_file,
                "--concurrency",
                "4",
                "--requests",
                "12",
                "--slo-ttft-p95-ms",
                "60000",
                "--json",
                str(out),
            )
        runs[seqs] = json.loads(out.read_text())["summary"]
    assert runs[1]["errors"] == runs[8]["errors"] == 0  # queued, not failed
    assert runs[1]["ttft_s"]["p95"] > 2 * runs[8]["ttft_s"]["p95"]


def test_errors_count_against_the_error_budget(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with standin() as url:
        code = main(
            [
                "loadtest",
                "--url",
                url,
                "--model",
                "not-served",
                "--api-key-file",
                str(key_file),
                "--concurrency",
                "2",
                "--requests",
                "6",
            ]
        )
    assert code == 1
    assert "error rate 1.000" in capsys.readouterr().err


def test_a_failing_health_probe_fails_the_run(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with standin() as url:
        code = loadtest(
            url,
            key_file,
            "--concurrency",
            "2",
            "--requests",
            "4",
            "--slo-ttft-p95-ms",
            "5000",
            "--health-url",
            f"{url}/no-such-health",
        )
    assert code == 1
    assert "/no-such-health: HTTP 404" in capsys.readouterr().err


def test_soak_prints_one_line_per_window(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with standin() as url:
        code = loadtest(
            url,
            key_file,
            "--concurrency",
            "2",
            "--soak",
            "2s",
            "--summary-every",
            "1s",
            "--slo-ttft-p95-ms",
            "5000",
        )
    out = capsys.readouterr().out
    assert code == 0
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("window")] == [
        "window 1/2",
        "window 2/2",
    ]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--concurrency", "0"], "--concurrency"),
        (["--rate", "-1"], "--rate"),
        (["--rate", "1", "--concurrency", "2"], "not allowed with"),
        (["--concurrency", "1", "--duration", "soon"], "--duration"),
        (["--concurrency", "1", "--max-error-rate", "2"], "--max-error-rate"),
    ],
)
def test_bad_options_are_one_line_exit_2(
    args: list[str], needle: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        loadtest("http://127.0.0.1:9", key_file, *args)
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and needle in err[-1] and "Traceback" not in "".join(err)


def test_missing_key_and_bad_mix_are_user_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLOSTACK_API_KEY", raising=False)
    assert (
        main(["loadtest", "--url", "http://127.0.0.1:9", "--model", "m", "--concurrency", "1"]) == 2
    )
    assert "no API key" in capsys.readouterr().err
    mix = tmp_path / "mix.yml"
    mix.write_text("shapes:\n  - kind: chat\n    max_tokens: 0\n")
    monkeypatch.setenv("COLOSTACK_API_KEY", KEY)
    assert (
        main(
            [
                "loadtest",
                "--url",
                "http://127.0.0.1:9",
                "--model",
                "m",
                "--concurrency",
                "1",
                "--mix",
                str(mix),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "shapes.0.max_tokens" in err
