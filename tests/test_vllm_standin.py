"""The STAND-IN vLLM server (tests/fixtures/vllm_standin), spoken to with the official `openai`
client as applications do. It proves the stand-in's contract (routes, streaming, queueing above
--max-num-seqs, vLLM's metric names, refused flags, a bounded stop), not vLLM's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer

import openai
import pytest
from conftest import REPO

STANDIN = REPO / "tests/fixtures/vllm_standin"
sys.path.insert(0, str(STANDIN))
from vllm_standin.server import State, make_handler, parser

KEY = "k" * 16


@contextmanager
def serve(state: State) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def server() -> Iterator[str]:
    with serve(State("standin", 0.0, KEY)) as url:
        yield url


def client(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=20)


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_chat_completion_answers_as_the_assistant(server: str):
    reply = client(server).chat.completions.create(
        model="standin", messages=[{"role": "user", "content": "hello there"}], max_tokens=3)
    assert reply.choices[0].message.role == "assistant"
    assert len((reply.choices[0].message.content or "").split()) == 3
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (2, 3)


def test_text_completion_keeps_its_shape(server: str):
    reply = client(server).completions.create(model="standin", prompt="hi", max_tokens=2)
    assert reply.object == "text_completion"
    assert len(reply.choices[0].text.split()) == 2


def test_streamed_chat_arrives_token_by_token_with_usage(server: str):
    stream = client(server).chat.completions.create(
        model="standin", messages=[{"role": "user", "content": "hi"}], max_tokens=4, stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    tokens = [c.choices[0].delta.content for c in chunks if c.choices]
    assert len(tokens) == 4 and all(tokens)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    # Streamed and plain answers to the same prompt carry the same text.
    plain = client(server).chat.completions.create(
        model="standin", messages=[{"role": "user", "content": "hi"}], max_tokens=4)
    assert "".join(t or "" for t in tokens) == plain.choices[0].message.content


def test_streamed_completion_ends_with_done(server: str):
    texts = [c.choices[0].text for c in client(server).completions.create(
        model="standin", prompt="hi", max_tokens=3, stream=True)]
    assert len(texts) == 3


def test_wrong_key_and_unknown_model_are_refused(server: str):
    with pytest.raises(openai.AuthenticationError):
        client(server, key="wrong").chat.completions.create(model="standin", messages=[], max_tokens=1)
    with pytest.raises(openai.NotFoundError):
        client(server).completions.create(model="other", prompt="hi", max_tokens=1)


def test_requests_above_max_num_seqs_wait_in_the_queue():
    with serve(State("standin", 0.2, KEY, max_num_seqs=1)) as url:
        running, waiting, done = queue_two(url)
    assert (running, waiting) == (1.0, 1.0)
    # One ran after the other: the second took about two generation times (2 x 5 x 0.2 s).
    assert max(done) >= 1.8


def queue_two(url: str) -> tuple[float, float, list[float]]:
    done: list[float] = []

    def one() -> None:
        start = time.monotonic()
        client(url).completions.create(model="standin", prompt="hi", max_tokens=5)
        done.append(time.monotonic() - start)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    running, waiting = metric(url, "vllm:num_requests_running"), metric(url, "vllm:num_requests_waiting")
    for t in threads:
        t.join()
    assert metric(url, "vllm:num_requests_waiting") == 0.0
    return running, waiting, done


def test_metrics_use_vllm_names(server: str):
    client(server).completions.create(model="standin", prompt="one two three", max_tokens=2)
    assert metric(server, "vllm:prompt_tokens_total") == 3.0
    assert metric(server, "vllm:generation_tokens_total") == 2.0
    assert metric(server, "vllm:e2e_request_latency_seconds_count") == 1.0
    assert metric(server, "vllm:time_to_first_token_seconds_count") == 1.0
    assert 0.0 <= metric(server, "vllm:kv_cache_usage_perc") <= 1.0


@pytest.mark.parametrize("flag", [["--no-such-flag"], ["--standin-token-delay"], ["--max-num-seqs", "x"]])
def test_flags_vllm_does_not_accept_are_refused(flag: list[str], capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["serve", "m", *flag])
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_the_role_s_flags_are_accepted():
    args = parser().parse_args(["serve", "m", "--served-model-name", "chat", "--gpu-memory-utilization", "0.9",
                                "--tensor-parallel-size", "8", "--no-enable-prefix-caching",
                                "--max-model-len", "8192", "--max-num-seqs", "64", "--shutdown-timeout", "30"])
    assert (args.tensor_parallel_size, args.enable_prefix_caching, args.shutdown_timeout) == (8, False, 30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sigterm_lets_running_requests_finish_within_the_shutdown_timeout():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vllm_standin.server", "serve", "standin", "--host", "127.0.0.1", "--port",
         str(port), "--shutdown-timeout", "10", "--standin-token-delay", "0.2"],
        cwd=STANDIN, env=dict(os.environ, VLLM_API_KEY=KEY), stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        result: list[str] = []
        t = threading.Thread(target=lambda: result.append(client(url).completions.create(
            model="standin", prompt="hi", max_tokens=10).choices[0].text))
        t.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(urllib.error.HTTPError) as health:
            urllib.request.urlopen(f"{url}/health", timeout=2)
        assert health.value.code == 503  # draining: new work refused
        t.join(15)
        assert len(result) == 1 and len(result[0].split()) == 10  # the in-flight request finished
        assert proc.wait(15) == 0
    finally:
        proc.kill()
