"""The Compose bundle (deploy/compose) comes up for real under podman-compose and serves.

PostgreSQL + pgvector, pgbouncer, Redis and HAProxy are the real Debian packages in a locally built
image; the vllm service is the STAND-IN image (tests/fixtures/vllm_standin), which proves the
gateway's wiring and the API key, not vLLM itself. Images are built once and reused while their
recipe hash (label colostack.content) is unchanged. The stack is always torn down, volumes included.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from conftest import REPO, run_logged, tail

COMPOSE = REPO / "deploy" / "compose"
PROJECT = "colostackcompose"  # container names are shared by every worktree: one run at a time
SERVICES = ("postgres", "pgbouncer", "redis", "vllm", "gateway")
DIMENSION = 1536  # inventories/colo postgresql_embedding_dimension, as rendered into init.sql

pytestmark = pytest.mark.molecule


@dataclass(frozen=True)
class Stack:
    secrets: Path
    pgbouncer_port: int
    gateway_port: int

    def secret(self, name: str) -> str:
        return (self.secrets / name).read_text().strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def compose(env: dict[str, str], *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman-compose", "-p", PROJECT, *args], cwd=COMPOSE, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def healthy(service: str) -> bool:
    # podman runs health checks from systemd timers, which these machines lack: run each check here.
    return subprocess.run(["podman", "healthcheck", "run", f"{PROJECT}_{service}_1"],
                          capture_output=True, text=True, check=False).returncode == 0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    assert shutil.which("podman-compose"), "podman-compose is missing: run `make deps`"
    code, out = run_logged([str(COMPOSE / "images" / "build.sh")], "compose-images", timeout=1200)
    assert code == 0, tail(out)
    secrets = tmp_path_factory.mktemp("compose-secrets")
    subprocess.run([str(COMPOSE / "make-secrets.sh"), str(secrets)], check=True, capture_output=True)
    ports = Stack(secrets, free_port(), free_port())
    env = dict(os.environ, COLOSTACK_SECRETS=str(secrets),
               COLOSTACK_PGBOUNCER_PORT=str(ports.pgbouncer_port),
               COLOSTACK_GATEWAY_PORT=str(ports.gateway_port))
    with open("/tmp/colostack-scn-compose.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            compose(env, "down", "-v", "-t", "5")  # leftovers of an interrupted run
            up = compose(env, "up", "-d")
            assert up.returncode == 0, tail(up.stdout + up.stderr)
            deadline = time.monotonic() + 240
            waiting = list(SERVICES)
            while waiting and time.monotonic() < deadline:
                waiting = [s for s in waiting if not healthy(s)]
                if waiting:
                    time.sleep(3)
            if waiting:
                logs = {s: compose(env, "logs", s, timeout=60).stdout[-2000:] for s in waiting}
                pytest.fail(f"not healthy after 240 s: {waiting}\n{json.dumps(logs, indent=1)}")
            yield ports
        finally:
            down = compose(env, "down", "-v", "-t", "5")
            subprocess.run(["podman", "network", "rm", "-f", f"{PROJECT}_default"],
                           capture_output=True, check=False)
            assert down.returncode == 0, tail(down.stdout + down.stderr)


def vec(hot: int) -> str:
    return "[" + ",".join("1" if i == hot else "0.01" for i in range(DIMENSION)) + "]"


def connect(stack: Stack, sslmode: str = "verify-full") -> psycopg.Connection:
    return psycopg.connect(host="localhost", port=stack.pgbouncer_port, dbname="colostack",
                           user="colostack_app", password=stack.secret("pg_app_password"),
                           sslmode=sslmode, sslrootcert=str(stack.secrets / "ca_cert"),
                           prepare_threshold=None, connect_timeout=10)


def test_knn_query_through_pgbouncer_uses_the_rendered_hnsw_index(stack: Stack):
    with connect(stack) as conn:
        with conn.transaction():
            for i in range(3):
                conn.execute("INSERT INTO document_embeddings (content, embedding) VALUES (%s, %s::vector)",
                             (f"doc{i}", vec(i)))
        with conn.transaction():
            conn.execute("SET LOCAL enable_seqscan = off")
            plan = "\n".join(r[0] for r in conn.execute(
                "EXPLAIN SELECT content FROM document_embeddings ORDER BY embedding <=> %s::vector LIMIT 1",
                (vec(1),)))
            nearest = conn.execute(
                "SELECT content FROM document_embeddings ORDER BY embedding <=> %s::vector LIMIT 2",
                (vec(1),)).fetchall()
            indexdef = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'document_embeddings_embedding_idx'"
            ).fetchone()
    assert "Index Scan using document_embeddings_embedding_idx" in plan, plan[:400]
    assert nearest[0] == ("doc1",)
    assert indexdef is not None and "USING hnsw" in indexdef[0]


def test_pgbouncer_refuses_clients_without_tls(stack: Stack):
    with pytest.raises(psycopg.OperationalError):
        connect(stack, sslmode="disable").close()


def completion(stack: Stack, key: str | None) -> tuple[int, dict[str, object]]:
    ctx = ssl.create_default_context(cafile=str(stack.secrets / "ca_cert"))
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
    body = json.dumps({"model": "llama-3.1-70b-instruct", "prompt": "colostack", "max_tokens": 4})
    req = urllib.request.Request(f"https://localhost:{stack.gateway_port}/v1/completions",
                                 data=body.encode(), headers=headers)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, {}


def test_completion_through_the_tls_gateway_needs_the_api_key(stack: Stack):
    status, body = completion(stack, stack.secret("vllm_api_key"))
    assert status == 200
    assert body["model"] == "llama-3.1-70b-instruct"
    assert body["choices"]
    assert completion(stack, None)[0] == 401
    assert completion(stack, "wrong-key")[0] == 401


def test_redis_answers_only_over_tls_with_its_password(stack: Stack):
    def ping(*args: str) -> str:
        proc = subprocess.run(["podman", "exec", f"{PROJECT}_redis_1", "redis-cli", "-h", "redis",
                               "--no-auth-warning", *args, "ping"],
                              capture_output=True, text=True, timeout=30, check=False)
        return (proc.stdout + proc.stderr).strip()

    tls = ["--tls", "--cacert", "/run/secrets/ca_cert"]
    assert ping(*tls, "-a", stack.secret("redis_password")) == "PONG"
    assert "NOAUTH" in ping(*tls)
    assert "PONG" not in ping("-a", stack.secret("redis_password"))
