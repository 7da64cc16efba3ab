"""site.yml with the demo inventory leaves a host that serves pgvector through pgbouncer over TLS."""

import json
import os
import re
import subprocess
from pathlib import Path

testinfra_hosts = ["site-d13"]  # the bastion is only a hop

# site.yml sits at the repo root, so the demo lookup writes the password there.
PASSWORD_FILE = Path(__file__).resolve().parents[3] / ".demo" / "postgresql_app_password"


def _psql(host, sql: str, password: str, sslmode: str = "require"):
    dsn = f"host=127.0.0.1 port=6432 dbname=colostack user=colostack_app sslmode={sslmode}"
    return host.run(f"PGPASSWORD='{password}' psql '{dsn}' -XAtc \"{sql}\"")


def test_postgresql_and_pgbouncer_run(host):
    assert host.service("postgresql@17-main").is_running
    assert host.service("pgbouncer").is_running
    assert host.socket("tcp://0.0.0.0:6432").is_listening


def test_app_user_queries_vectors_through_pgbouncer_over_tls(host):
    password = PASSWORD_FILE.read_text().strip()
    res = _psql(host, "SELECT extversion FROM pg_extension WHERE extname = 'vector'", password)
    assert res.rc == 0, res.stderr
    assert res.stdout.strip().startswith("0.")
    plain = _psql(host, "SELECT 1", password, sslmode="disable")
    assert plain.rc != 0, "pgbouncer accepted a client without TLS"


def test_generated_password_is_the_only_one_accepted(host):
    res = _psql(host, "SELECT 1", "not-the-password")
    assert res.rc != 0
    assert "authentication failed" in res.stderr


def test_maintenance_timer_is_scheduled(host):
    assert host.run("systemctl is-enabled colostack-pg-maintenance.timer").stdout.strip() == "enabled"


def test_ansible_reached_the_host_through_the_bastion(host):
    # SSH_CONNECTION's first field is the client's address: the bastion's, not the controller's.
    client = host.run("echo $SSH_CONNECTION").stdout.split()[0]
    bastion = host.run("getent hosts site-bastion").stdout.split()[0]
    assert client == bastion


def test_a_host_whose_key_does_not_match_known_hosts_is_refused(tmp_path):
    """StrictHostKeyChecking holds on the production path: a changed host key stops Ansible cold."""
    ssh_dir = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "ssh"
    known = (ssh_dir / "known_hosts").read_text().splitlines()
    wrong = "AAAAC3NzaC1lZDI1NTE5AAAAIMM8LV3ZOgb5lwpvQz1RG6FUmKZsR3U8mHa5l4Dh6k+Q"  # not site-d13's key
    (tmp_path / "known_hosts").write_text("\n".join(
        f"site-d13 ssh-ed25519 {wrong}" if line.startswith("site-d13 ") else line for line in known) + "\n")
    config = (ssh_dir / "config").read_text().replace(str(ssh_dir / "known_hosts"), str(tmp_path / "known_hosts"))
    (tmp_path / "config").write_text(config)
    env = dict(os.environ, ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp_path / "cp"))  # no reuse of a verified master
    proc = subprocess.run(
        ["ansible", "site-d13", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-m", "ansible.builtin.ping",
         "-e", f"ansible_ssh_common_args='-F {tmp_path / 'config'} -o ControlPath={tmp_path}/m-%C'"],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0
    assert "UNREACHABLE" in proc.stdout
    assert "Host key verification failed" in proc.stdout + proc.stderr


def test_site_yml_from_the_installed_collection_changes_nothing(tmp_path):
    """The built collection, installed into an empty collections path, is all site.yml needs: the
    checkout's roles and collections/ are out of reach (no roles_path; the venv's bundled
    collections are the only others), and on the converged host it finds nothing to change."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"),
               ANSIBLE_ROLES_PATH=str(tmp_path / "no-roles"))
    repo = Path(__file__).resolve().parents[3]

    def galaxy(*args: str) -> None:
        step = subprocess.run(["ansible-galaxy", "collection", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)
        assert step.returncode == 0, step.stdout + step.stderr

    galaxy("build", "--output-path", str(tmp_path), str(repo))
    galaxy("install", "--offline", "-p", str(tmp_path / "collections"), str(next(tmp_path.glob("colostack-infra-*.tar.gz"))))
    site = tmp_path / "collections/ansible_collections/colostack/infra/site.yml"
    # The demo inventory generates the password beside the playbook; this copy gets the checkout's.
    password = {"postgresql_app_password": PASSWORD_FILE.read_text().strip()}
    run = subprocess.run(
        ["ansible-playbook", str(site), "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-e", json.dumps(password)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "TASK [colostack.infra.postgresql : " in out
    installed_role = tmp_path / "collections/ansible_collections/colostack/infra/roles/site_preflight"
    assert f"included: {installed_role}/tasks/check_role.yml" in out
    assert f"included: {repo}" not in out
    assert re.search(r"^site-d13\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", out, re.MULTILINE), out[-3000:]
