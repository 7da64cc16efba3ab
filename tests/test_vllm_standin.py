"""The STAND-IN vLLM server (tests/fixtures/vllm_standin) answers the two OpenAI routes the demo and
the scenarios use, behind its API key. It proves the stand-in's contract, not vLLM's."""

from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "tests/fixtures/vllm_standin"))
from vllm_standin.server import State, make_handler


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(State("standin", 0.0, "k" * 16)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def post(url: str, body: dict, key: str = "k" * 16) -> tuple[int, dict]:
    req = urllib.request.Request(url, json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_chat_completion_answers_as_the_assistant(server: str):
    code, body = post(f"{server}/v1/chat/completions",
                      {"model": "standin", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
    assert code == 200
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert len(body["choices"][0]["message"]["content"].split()) == 3


def test_text_completion_keeps_its_shape(server: str):
    code, body = post(f"{server}/v1/completions", {"model": "standin", "prompt": "hi", "max_tokens": 2})
    assert (code, body["object"]) == (200, "text_completion")
    assert len(body["choices"][0]["text"].split()) == 2


def test_wrong_key_is_refused(server: str):
    code, _ = post(f"{server}/v1/chat/completions", {"model": "standin", "messages": []}, key="wrong")
    assert code == 401
