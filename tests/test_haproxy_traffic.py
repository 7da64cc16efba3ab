"""The route shift guard's reading of HAProxy's access log (plugins/modules/haproxy_traffic.py).

The lines are HAProxy 2.6 httplog lines as the vllm scenario's gateway writes them to the journal.
"""

from __future__ import annotations

import importlib.util

from conftest import REPO

_spec = importlib.util.spec_from_file_location("haproxy_traffic", REPO / "plugins/modules/haproxy_traffic.py")
assert _spec and _spec.loader
haproxy_traffic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(haproxy_traffic)

LINES = [
    '10.89.0.4:51012 [02/Dec/2026:07:01:02.101] inference~ vllm_nodes/node-a 0/0/1/210/211 200 412 - - ---- 2/2/1/1/0 0/0 "POST /v1/completions HTTP/1.1"',
    '10.89.0.4:51014 [02/Dec/2026:07:01:02.180] inference~ cloud_standin/standin 0/0/2/205/207 200 409 - - ---- 2/2/1/1/0 0/0 "POST /v1/completions HTTP/1.1"',
    '10.89.0.4:51016 [02/Dec/2026:07:01:02.301] inference~ vllm_nodes/node-a 0/0/1/990/991 502 180 - - ---- 1/1/0/0/0 0/0 "POST /v1/completions HTTP/1.1"',
    '10.89.0.4:51018 [02/Dec/2026:07:01:03.002] inference~ vllm_nodes/<NOSRV> 0/30000/-1/-1/30000 503 210 - - sQ-- 1/1/0/0/0 0/3 "POST /v1/completions HTTP/1.1"',
    '10.89.0.4:51020 [02/Dec/2026:07:01:03.102] inference~ model_1/node-a 0/0/1/300/301 200 401 - - ---- 1/1/0/0/0 0/0 "POST /v1/completions HTTP/1.1"',
    '10.89.0.4:51022 [02/Dec/2026:07:01:03.202] inference~ vllm_nodes/<NOSRV> 0/0/-1/-1/0 429 190 - - PR-- 1/1/0/0/0 0/0 "POST /v1/completions HTTP/1.1"',
    "Proxy vllm_nodes started.",
    "Server vllm_nodes/node-a is DOWN, reason: Layer7 wrong status, code: 502, check duration: 3ms.",
]


def test_cloud_backends_and_non_request_lines_are_left_out() -> None:
    requests = haproxy_traffic.parse(LINES, "cloud_")
    assert [backend for backend, _, _ in requests] == ["vllm_nodes", "vllm_nodes", "vllm_nodes", "model_1", "vllm_nodes"]
    assert requests[0] == ("vllm_nodes", 200, 211)


def test_errors_are_5xx_and_429_and_the_p95_is_of_the_total_time() -> None:
    result = haproxy_traffic.summary(haproxy_traffic.parse(LINES, "cloud_"))
    assert result["requests"] == 5
    assert result["errors"] == 3  # 502, 503 (queue timeout), 429
    assert result["error_rate"] == 0.6
    # Ta of the five: 211, 991, 30000, 301, 0; the inclusive 95th percentile lies between 991 and 30000.
    assert 991 < result["p95_ms"] < 30000
    assert result["backends"] == ["model_1", "vllm_nodes"]


def test_no_traffic_gives_zero_requests_and_no_rate() -> None:
    assert haproxy_traffic.summary([]) == {"requests": 0, "errors": 0, "error_rate": 0.0, "p95_ms": 0.0, "backends": []}
