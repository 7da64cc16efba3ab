"""Cost agent: pid -> cgroup -> service, apportioning time and energy, storage, and the
counters it leaves in a real Redis."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import yaml
from redisproc import TlsRedis, redis_server, redis_tls_server, self_signed

from colostack import redisconn
from colostack.cost.agent import AgentConfig, State, apportion, map_pids, run_once
from colostack.cost.gpus import GpuProc, GpuReading
from colostack.cost.procmap import (
    UNLABELLED,
    LabelMap,
    LabelMapError,
    Owner,
    cgroup_path,
    owner_of,
    read_owner,
)
from colostack.cost.storage import path_bytes, postgres_gb
from colostack.errors import UserError

V2 = "0::/system.slice/vllm-chat.service\n"
V1 = ("12:pids:/system.slice/embedder.service\n"
      "1:name=systemd:/system.slice/embedder.service\n")
# Recorded from a systemd service in a Podman test host on a hybrid-cgroup machine.
HYBRID = ("1:name=systemd:/libpod_parent/libpod-" + "e9" * 32 + "/system.slice/vllm-chat.service\n"
          "0::/libpod_parent/libpod-" + "e9" * 32 + "\n")
PODMAN = "0::/machine.slice/libpod-" + "ab" * 32 + ".scope/container\n"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def test_cgroup_lines_give_the_unit_or_container() -> None:
    assert owner_of(cgroup_path(V2)).unit == "vllm-chat.service"
    assert owner_of(cgroup_path(V1)).unit == "embedder.service"
    hybrid = owner_of(cgroup_path(HYBRID))
    assert hybrid.unit == "vllm-chat.service"
    assert hybrid.container_id == "e9" * 32
    o = owner_of(cgroup_path(PODMAN))
    assert o.container_id == "ab" * 32
    assert o.unit == "libpod-" + "ab" * 32 + ".scope"


def test_label_map_resolves_units_and_container_names() -> None:
    labels = LabelMap.from_mapping({"vllm-chat.service": "chat-api",
                                    "container:embedder": "search"})
    assert labels.service_for(owner_of(cgroup_path(V2)), {}) == "chat-api"
    assert labels.service_for(owner_of(cgroup_path(PODMAN)), {"ab" * 32: "embedder"}) == "search"
    assert labels.service_for(Owner("sshd.service", None, "/x"), {}) is None
    by_path = LabelMap.from_mapping({"cgroup:/kubepods": "k8s", "cgroup:/kubepods/burst": "b"})
    assert by_path.service_for(Owner(None, None, "/kubepods/burst/pod1"), {}) == "b"
    assert by_path.service_for(Owner(None, None, "/kubepods/pod2"), {}) == "k8s"
    assert by_path.service_for(Owner(None, None, "/kubepodsX"), {}) is None


@pytest.mark.parametrize("bad", [None, "", "  "])
def test_a_label_that_maps_to_no_service_is_an_error(bad: object) -> None:
    with pytest.raises(LabelMapError, match=r"vllm-chat\.service.*maps to no service"):
        LabelMap.from_mapping({"vllm-chat.service": bad})


def test_config_rejects_a_service_name_that_cannot_be_a_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml.safe_dump({"redis_url": "redis://x", "labels": {"a.service": "chat api"}}))
    with pytest.raises(ValueError, match="'chat api'"):
        AgentConfig.load(cfg)


def _gpu(index: int, energy: int | None, *procs: tuple[int, float | None]) -> GpuReading:
    return GpuReading(index, f"GPU-{index}", energy, tuple(GpuProc(p, m) for p, m in procs))


def test_time_and_energy_are_split_by_memory_and_idle_gpus_are_charged_to_idle() -> None:
    prev = State(t=1000.0, energy_mj={"GPU-0": 0, "GPU-1": 0, "GPU-2": 100})
    readings = [
        _gpu(0, 3_600_000, (11, 30_000.0), (12, 10_000.0)),   # 1 Wh, chat 3/4, search 1/4
        _gpu(1, 7_200_000, (13, None)),                          # 2 Wh, search
        _gpu(2, 50),                                             # no procs; counter went back
    ]
    usage, state = apportion(readings, {11: "chat", 12: "search", 13: "search"}, prev,
                             now=1060.0, max_gap_s=300)
    assert usage["chat"].gpu_seconds == pytest.approx(45.0)
    assert usage["search"].gpu_seconds == pytest.approx(15.0 + 60.0)
    assert usage["idle"].gpu_seconds == pytest.approx(60.0)
    assert usage["chat"].gpu_kwh == pytest.approx(0.00075)
    assert usage["search"].gpu_kwh == pytest.approx(0.00025 + 0.002)
    assert usage["idle"].gpu_kwh == 0.0          # counter reset: no delta trusted
    assert state.energy_mj == {"GPU-0": 3_600_000, "GPU-1": 7_200_000, "GPU-2": 50}
    assert state.t == 1060.0


def test_first_run_sets_a_baseline_and_long_gaps_are_capped() -> None:
    usage, _ = apportion([_gpu(0, 10, (1, None))], {1: "a"}, State(), 5000.0, 300)
    assert usage["a"].gpu_seconds == 0.0 and usage["a"].gpu_kwh == 0.0
    usage, _ = apportion([_gpu(0, 10, (1, None))], {1: "a"}, State(t=0.0), 5000.0, 300)
    assert usage["a"].gpu_seconds == 300.0


def test_unmatched_and_vanished_pids_are_charged_as_unlabelled_with_a_warning() -> None:
    labels = LabelMap.from_mapping({"vllm-chat.service": "chat"})
    owners = {1: Owner("vllm-chat.service", None, "/"), 2: Owner("sshd.service", None, "/")}

    def owner(pid: int) -> Owner:
        if pid not in owners:
            raise FileNotFoundError(pid)
        return owners[pid]

    warnings: list[str] = []
    got = map_pids([_gpu(0, 0, (1, None), (2, None), (3, None))], labels, owner, warnings.append)
    assert got == {1: "chat", 2: UNLABELLED, 3: UNLABELLED}
    assert any("sshd.service" in w for w in warnings)
    assert any("pid 3 exited" in w for w in warnings)


def test_postgres_sizes_prefer_table_over_schema_mapping() -> None:
    rows = [("rag", "chunks", 2_000_000_000), ("rag", "audit", 500_000_000),
            ("public", "t", 1_000_000_000)]
    got = postgres_gb(rows, {"rag": "search", "rag.audit": "compliance"})
    assert got == {"search": 2.0, "compliance": 0.5, UNLABELLED: 1.0}


def test_path_usage_counts_hard_links_once(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 1_000_000)
    os.link(tmp_path / "a", tmp_path / "b")
    one = os.lstat(tmp_path / "a").st_blocks * 512
    assert one >= 1_000_000
    assert one <= path_bytes(tmp_path) < 2 * one
    assert path_bytes(tmp_path / "a") == one           # a single file, as cost_agent_paths allows
    assert path_bytes(tmp_path / "missing") == 0


def test_run_once_maps_this_real_process_and_writes_counters_to_redis(redis_url: str,
                                                                       tmp_path: Path) -> None:
    """The pytest process's real cgroup is mapped through the label map; NVML is replayed."""
    me = read_owner(os.getpid())
    # This sandbox runs pytest in no systemd unit, so map it by its cgroup path.
    key = me.unit or f"cgroup:{me.cgroup}"
    replay = tmp_path / "nvml.json"
    replay.write_text(json.dumps({
        "synthetic": True, "source": "test: NVML process list replayed around a real pid",
        "frames": [{"gpus": [{"index": 0, "uuid": "GPU-a", "energy_mj": e,
                               "processes": [{"pid": os.getpid(), "used_memory_mib": 1000}]},
                              {"index": 1, "uuid": "GPU-b", "energy_mj": e, "processes": []}]}
                   for e in (0, 36_000_000)]}))
    data = tmp_path / "models"
    data.mkdir()
    (data / "w.bin").write_bytes(b"\0" * 4096)
    cfg = tmp_path / "agent.yml"
    cfg.write_text(yaml.safe_dump({
        "redis_url": redis_url, "labels": {key: "chat-api"}, "expire_days": 2,
        "state_file": str(tmp_path / "state.json"), "nvml_replay": str(replay),
        "paths": {str(data): "chat-api"}}))
    config = AgentConfig.load(cfg)
    now = datetime(2026, 11, 5, 12, 0, tzinfo=UTC).timestamp()
    run_once(config, now)
    run_once(config, now + 60)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    chat = client.hgetall("colostack:usage:chat-api:2026-11-05")
    idle = client.hgetall("colostack:usage:idle:2026-11-05")
    assert float(chat["gpu_seconds"]) == pytest.approx(60.0)
    assert float(chat["gpu_kwh"]) == pytest.approx(0.01)      # 36,000,000 mJ
    assert float(chat["storage_gb_days"]) == pytest.approx(
        path_bytes(data) / 1e9 * 60 / 86400)
    assert float(idle["gpu_seconds"]) == pytest.approx(60.0)
    assert 0 < client.ttl("colostack:usage:chat-api:2026-11-05") <= 2 * 86400
    assert json.loads((tmp_path / "state.json").read_text())["replay_frame"] == 2


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    with redis_tls_server(tmp_path_factory.mktemp("redis-tls")) as server:
        yield server


def test_run_once_writes_to_a_tls_only_redis_checked_against_the_ca_file(tls_redis: TlsRedis,
                                                                        tmp_path: Path) -> None:
    cfg = tmp_path / "agent.yml"
    cfg.write_text(yaml.safe_dump({
        "redis_url": tls_redis.url, "redis_password": tls_redis.password,
        "redis_ca_file": str(tls_redis.ca_file),
        "labels": {}, "collect_gpus": False, "state_file": str(tmp_path / "state.json"),
        "paths": {str(tmp_path): "chat-api"}}))
    config = AgentConfig.load(cfg)
    assert config.redis_ca_file == str(tls_redis.ca_file)
    now = datetime(2026, 11, 6, 12, 0, tzinfo=UTC).timestamp()
    run_once(config, now)
    run_once(config, now + 60)
    client = redis.Redis.from_url(tls_redis.url, password=tls_redis.password,
                                  ssl_ca_certs=str(tls_redis.ca_file), decode_responses=True)
    assert float(client.hgetall("colostack:usage:chat-api:2026-11-06")["storage_gb_days"]) > 0


def test_a_plaintext_client_is_refused_by_the_tls_only_redis(tls_redis: TlsRedis) -> None:
    plain = tls_redis.url.replace("rediss://", "redis://")
    with pytest.raises(UserError, match=r"is unreachable"):
        redisconn.connect(plain, tls_redis.password, timeout_s=3)


def test_a_server_certificate_from_another_ca_is_refused(tls_redis: TlsRedis,
                                                         tmp_path: Path) -> None:
    other_ca, _ = self_signed(tmp_path, "other")
    with pytest.raises(UserError, match=r"certificate verify failed"):
        redisconn.connect(tls_redis.url, tls_redis.password, timeout_s=3, ca_file=str(other_ca))


def test_a_ca_file_with_a_plaintext_url_is_a_user_error(tls_redis: TlsRedis) -> None:
    with pytest.raises(UserError, match=r"needs a rediss:// \(TLS\) URL"):
        redisconn.connect("redis://127.0.0.1:1/0", None, ca_file=str(tls_redis.ca_file))
