"""The redis role on the ops host: TLS only, auth, bind, protected mode and persistence."""

from __future__ import annotations

from typing import Any

from conftest import ssh_host

testinfra_hosts = ["cost-ops"]
# redis-cli over TLS, checking the server's certificate against the one the role installed.
TLS = "redis-cli --tls --cacert /etc/redis/tls/redis.crt"
AUTH = f"REDISCLI_AUTH=molecule-cost-redis-password {TLS} --no-auth-warning"


def test_service_enabled_and_running(host: Any) -> None:
    svc = host.service("redis-server")
    assert svc.is_enabled and svc.is_running


def test_config_is_readable_by_redis_only(host: Any) -> None:
    conf = host.file("/etc/redis/redis.conf")
    assert conf.user == "redis" and conf.mode == 0o640


def test_clients_without_the_password_are_refused(host: Any) -> None:
    assert "NOAUTH" in host.check_output(f"{TLS} ping")
    assert host.check_output(f"{AUTH} ping") == "PONG"


def test_plaintext_is_refused_even_with_the_password(host: Any) -> None:
    """The real redis-cli without --tls, from the host and from the node: no answer, no plaintext port."""
    ip = host.interface("eth0").addresses[0]
    for target in ("127.0.0.1", ip):
        plain = host.run(f"REDISCLI_AUTH=molecule-cost-redis-password redis-cli --no-auth-warning -h {target} ping")
        assert plain.rc != 0, plain.stdout
        assert "PONG" not in plain.stdout and "NOAUTH" not in plain.stdout
    assert host.check_output(f"{AUTH} config get port").split() == ["port", "0"]
    assert host.check_output(f"{AUTH} config get tls-port").split() == ["tls-port", "6379"]


def test_tls_with_the_ca_works_from_the_node_and_a_wrong_ca_is_refused(host: Any) -> None:
    node = ssh_host("cost-node")
    ca = "/etc/colostack/cost-agent-redis-ca.pem"  # the cost_agent role's copy of this host's certificate
    ok = node.run(f"REDISCLI_AUTH=molecule-cost-redis-password redis-cli --tls --cacert {ca} --no-auth-warning"
                  " -h cost-ops ping")
    assert ok.rc == 0 and ok.stdout.strip() == "PONG", ok.stdout + ok.stderr
    wrong = node.run("redis-cli --tls --cacert /etc/ssl/certs/ca-certificates.crt -h cost-ops ping")
    assert "PONG" not in wrong.stdout and "NOAUTH" not in wrong.stdout
    assert "certificate verify failed" in wrong.stdout + wrong.stderr, wrong.stdout + wrong.stderr
    plain = node.run("redis-cli -h cost-ops ping")
    assert plain.rc != 0 and "PONG" not in plain.stdout and "NOAUTH" not in plain.stdout


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
