"""The cost agent on a GPU-less node: real systemd services' cgroups mapped through the label
map, NVML process data replayed around their real pids, a real PostgreSQL sized, and the
counters read back from the real Redis on the ops host."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ssh_forward, ssh_host

testinfra_hosts = ["cost-node"]
REPO = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
REDIS_PORT = 16379  # the ops host's Redis, forwarded to the controller

PY = "/opt/colostack/venv/bin/python"
UNIT = "colostack-cost-agent"
# Reads every usage key for today from Redis with the agent's own config and password.
READ = """
import json, yaml, redis, datetime
cfg = yaml.safe_load(open('/etc/colostack/cost-agent.yml'))
r = redis.Redis.from_url(cfg['redis_url'], password=cfg['redis_password'], ssl_ca_certs=cfg['redis_ca_file'],
                        decode_responses=True)
day = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d')
print(json.dumps({k.split(':')[2]: {**r.hgetall(k), 'ttl': r.ttl(k)}
                  for k in r.scan_iter('colostack:usage:*:' + day)}))
"""
CLEAR = """
import yaml, redis
cfg = yaml.safe_load(open('/etc/colostack/cost-agent.yml'))
r = redis.Redis.from_url(cfg['redis_url'], password=cfg['redis_password'], ssl_ca_certs=cfg['redis_ca_file'])
for k in r.scan_iter('colostack:usage:*'):
    r.delete(k)
"""
RAG_BYTES = ("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
             "ON n.oid = c.relnamespace WHERE n.nspname = 'rag' AND c.relkind IN ('r','m','p')")


@pytest.fixture(scope="module")
def usage(host: Any) -> Iterator[dict[str, dict[str, float]]]:
    """Two agent runs from a clean slate, with the timer held off so it cannot interleave."""
    host.run_expect([0], f"systemctl stop {UNIT}.timer")
    try:
        host.run_expect([0], "rm -f /var/lib/colostack-cost-agent/state.json")
        host.run_expect([0], f"{PY} -c \"{CLEAR}\"")
        host.run_expect([0], f"systemctl start {UNIT}.service")
        time.sleep(2)
        host.run_expect([0], f"systemctl start {UNIT}.service")
        raw = json.loads(host.check_output(f"{PY} -c \"{READ}\""))
        yield {svc: {k: float(v) for k, v in fields.items()} for svc, fields in raw.items()}
    finally:
        host.run_expect([0], f"systemctl start {UNIT}.timer")


def test_timer_is_enabled_and_runs_every_minute(host: Any) -> None:
    timer = host.service(f"{UNIT}.timer")
    assert timer.is_enabled and timer.is_running
    assert "OnCalendar=*-*-* *:*:00" in host.file(f"/etc/systemd/system/{UNIT}.timer").content_string


def test_config_with_password_is_root_only(host: Any) -> None:
    cfg = host.file("/etc/colostack/cost-agent.yml")
    assert cfg.user == "root" and cfg.mode == 0o600
    assert "molecule-cost-redis-password" in cfg.content_string


def test_energy_is_apportioned_exactly_by_service(usage: dict[str, dict[str, float]]) -> None:
    # GPU 0: 2 Wh, chat 3/4, embed 1/4. GPU 1: 1 Wh, embed 1/2, batch-job (unlabelled) 1/2.
    assert usage["chat-api"]["gpu_kwh"] == pytest.approx(0.0015)
    assert usage["search"]["gpu_kwh"] == pytest.approx(0.0010)
    assert usage["unlabelled"]["gpu_kwh"] == pytest.approx(0.0005)


def test_gpu_seconds_follow_the_real_cgroups(usage: dict[str, dict[str, float]]) -> None:
    chat, search = usage["chat-api"]["gpu_seconds"], usage["search"]["gpu_seconds"]
    assert 0 < chat < 60 * 0.75
    assert search == pytest.approx(chat)                      # 0.25 + 0.5 vs 0.75
    assert usage["unlabelled"]["gpu_seconds"] == pytest.approx(chat * 2 / 3)


def test_unlabelled_unit_is_named_in_the_journal(host: Any) -> None:
    log = host.check_output(f"journalctl -u {UNIT}.service --no-pager -n 50")
    assert "batch-job.service" in log and "matches no label" in log


def test_storage_comes_from_postgres_and_paths(host: Any,
                                               usage: dict[str, dict[str, float]]) -> None:
    elapsed_days = usage["chat-api"]["gpu_seconds"] / 0.75 / 86400
    rag = int(host.check_output(f'runuser -u postgres -- psql -Atc "{RAG_BYTES}"'))
    assert usage["search"]["storage_gb_days"] == pytest.approx(rag / 1e9 * elapsed_days, rel=1e-3)
    model = host.file("/srv/chat-model.bin").size
    assert usage["chat-api"]["storage_gb_days"] == pytest.approx(
        model / 1e9 * elapsed_days, rel=1e-3)
    assert usage["unlabelled"]["storage_gb_days"] > 0         # public.misc maps nowhere


def test_keys_expire(usage: dict[str, dict[str, float]]) -> None:
    for fields in usage.values():
        assert 399 * 86400 < fields["ttl"] <= 400 * 86400


def test_agent_reaches_redis_over_tls_checked_against_its_ca_file(host: Any) -> None:
    cfg = host.file("/etc/colostack/cost-agent.yml").content_string
    assert "redis_url: rediss://cost-ops:6379/0" in cfg
    assert "redis_ca_file: /etc/colostack/cost-agent-redis-ca.pem" in cfg
    ca = host.file("/etc/colostack/cost-agent-redis-ca.pem")
    assert ca.mode == 0o644 and ca.content_string.startswith("-----BEGIN CERTIFICATE-----")


def test_the_chargeback_bills_both_models_by_their_units(
    usage: dict[str, dict[str, float]], tmp_path: Path,
) -> None:
    """`colostack chargeback` from the controller, as docs/costs.md runs it (the example rate card),
    reaching Redis through an SSH forward: vllm.service and the instance vllm-embed.service are
    billed as their labels' services."""
    ops = ssh_host("cost-ops")
    (tmp_path / "redis.crt").write_text(ops.file("/etc/redis/tls/redis.crt").content_string)
    (tmp_path / "redis-password").write_text("molecule-cost-redis-password\n")
    month = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
    with ssh_forward("cost-ops", {REDIS_PORT: 6379}):
        run = subprocess.run(
            ["colostack", "chargeback", "--month", month,
             "--rate-card", str(REPO / "inventories/colo/group_vars/gpu_nodes/cost_agent.yml"),
             "--redis-url", f"rediss://localhost:{REDIS_PORT}/0", "--redis-ca-file", str(tmp_path / "redis.crt"),
             "--redis-password-file", str(tmp_path / "redis-password"), "--out", str(tmp_path)],
            capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    bill = json.loads((tmp_path / f"chargeback-{month}.json").read_text())
    lines = {row["service"]: row for row in bill["services"]}
    assert {"chat-api", "search"} <= set(lines)
    assert float(lines["chat-api"]["gpu_kwh"]) == pytest.approx(usage["chat-api"]["gpu_kwh"], abs=5e-4)
    assert float(lines["search"]["gpu_kwh"]) == pytest.approx(usage["search"]["gpu_kwh"], abs=5e-4)
    day = max(bill["gpu_hours_by_day"])
    assert bill["gpu_hours_by_day"][day]["chat-api"] > 0 and bill["gpu_hours_by_day"][day]["search"] > 0
