"""The redis role on the ops host: auth, bind, protected mode and persistence."""

from __future__ import annotations

from typing import Any

testinfra_hosts = ["cost-ops"]
AUTH = "REDISCLI_AUTH=molecule-cost-redis-password redis-cli --no-auth-warning"


def test_service_enabled_and_running(host: Any) -> None:
    svc = host.service("redis-server")
    assert svc.is_enabled and svc.is_running


def test_config_is_readable_by_redis_only(host: Any) -> None:
    conf = host.file("/etc/redis/redis.conf")
    assert conf.user == "redis" and conf.mode == 0o640


def test_clients_without_the_password_are_refused(host: Any) -> None:
    assert "NOAUTH" in host.check_output("redis-cli ping")
    assert host.check_output(f"{AUTH} ping") == "PONG"


def test_binds_only_to_the_listed_addresses(host: Any) -> None:
    listening = host.check_output("ss -Hltn 'sport = :6379'")
    ip = host.interface("eth0").addresses[0]
    assert "127.0.0.1:6379" in listening and f"{ip}:6379" in listening
    assert "0.0.0.0:6379" not in listening and "*:6379" not in listening
    assert host.check_output(f"{AUTH} config get protected-mode").split() == ["protected-mode",
                                                                               "yes"]


def test_data_survives_a_restart(host: Any) -> None:
    assert host.check_output(f"{AUTH} config get appendonly").split() == ["appendonly", "yes"]
    host.run_expect([0], f"{AUTH} set molecule:persist kept")
    host.run_expect([0], "systemctl restart redis-server")
    assert host.check_output(f"{AUTH} get molecule:persist") == "kept"
    assert host.file("/var/lib/redis/appendonlydir").is_directory
    host.run_expect([0], f"{AUTH} del molecule:persist")


def test_flushall_is_disabled(host: Any) -> None:
    assert "unknown command" in host.run(f"{AUTH} flushall").stdout.lower()
