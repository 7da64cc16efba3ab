"""control_node: the colostack runtime with Ansible, the project deployed, rollout timers at window starts, hard stop at window end."""

import json
import re
from datetime import UTC, datetime

UNIT = "colostack-rollout-weekly-firmware"
COLOSTACK = "/usr/local/bin/colostack"


def test_colostack_runs_from_the_runtime_on_path(host):
    out = host.check_output(
        COLOSTACK + " window next --host x --count 1 --window "
        "'{\"start\": \"Sat 02:00\", \"duration\": \"4h\", \"timezone\": \"Europe/Berlin\"}'"
    )
    assert re.search(r"Sat \d{4}-\d\d-\d\d 02:00 CES?T -> Sat \d{4}-\d\d-\d\d 06:00 CES?T", out)


def test_ansible_in_the_runtime_is_the_core_the_roles_need(host):
    out = host.check_output("/opt/colostack/venv/bin/ansible-playbook --version")
    major, minor = re.search(r"core (\d+)\.(\d+)", out).groups()
    assert (int(major), int(minor)) >= (2, 19), out
    collections = host.check_output("/opt/colostack/venv/bin/ansible-galaxy collection list community.general")
    assert "community.general" in collections


def test_project_is_deployed_and_nothing_else_is_left_there(host):
    files = sorted(host.check_output("ls -A /opt/colostack/project").split())
    assert files == ["inventory", "noop.yml"]
    assert host.file("/opt/colostack/project/inventory/hosts.ini").contains("ansible_connection=local")


def test_vault_password_is_readable_by_the_rollout_user_only(host):
    vault = host.file("/var/lib/colostack/vault-password")
    assert (vault.user, vault.mode) == ("colostack", 0o400)
    assert vault.content_string == "not-a-real-vault-password"
    unit = host.file(f"/etc/systemd/system/{UNIT}.service").content_string
    assert "Environment=ANSIBLE_VAULT_PASSWORD_FILE=/var/lib/colostack/vault-password" in unit


def test_units_pass_systemd_analyze_verify(host):
    for name in (UNIT, "colostack-rollout-nightly-noop"):
        cmd = host.run(f"systemd-analyze verify /etc/systemd/system/{name}.service "
                       f"/etc/systemd/system/{name}.timer")
        assert cmd.rc == 0, cmd.stderr


def test_timer_fires_at_the_window_start_colostack_computes(host):
    timer = host.service(f"{UNIT}.timer")
    assert timer.is_enabled
    assert timer.is_running
    calendar = host.check_output(f"systemctl show -p TimersCalendar --value {UNIT}.timer")
    assert "OnCalendar=Sat *-*-* 02:00:00 Europe/Berlin" in calendar
    # systemd's next elapse and colostack's next window start are the same instant.
    elapse = host.check_output(
        "systemd-analyze calendar --iterations=1 'Sat *-*-* 02:00:00 Europe/Berlin'")
    # "(in UTC)" is only printed when the host's own zone is not UTC.
    lines = [line for line in elapse.splitlines() if "(in UTC)" in line or "Next elapse" in line]
    systemd_next = datetime.strptime(lines[-1].split(": ", 1)[1].strip(), "%a %Y-%m-%d %H:%M:%S UTC")
    window = json.dumps({"start": "Sat 02:00", "duration": "4h", "timezone": "Europe/Berlin"})
    decision = json.loads(host.check_output(
        f"{COLOSTACK} window check --json --host x --expected-duration 1m --window '{window}' "
        f"--now {systemd_next.replace(tzinfo=UTC).isoformat()}"))
    assert decision["admitted"] is True
    assert decision["window_start"] is not None
    assert datetime.fromisoformat(decision["window_start"]) == systemd_next.replace(
        tzinfo=UTC)


def test_service_has_a_hard_stop_at_the_window_length(host):
    assert host.check_output(f"systemctl show -p RuntimeMaxUSec --value {UNIT}.service") == "4h"
    assert host.check_output(f"systemctl show -p User --value {UNIT}.service") == "colostack"
    unit = host.file(f"/etc/systemd/system/{UNIT}.service").content_string
    assert "--report-dir /var/lib/colostack/rollouts/weekly-firmware" in unit
    assert "firmware_rollout_serial" in unit


def test_rrule_rollout_uses_its_own_calendar(host):
    calendar = host.check_output(
        "systemctl show -p TimersCalendar --value colostack-rollout-nightly-noop.timer")
    assert "OnCalendar=*-*-* 03:30:00 America/New_York" in calendar
    assert host.check_output(
        "systemctl show -p RuntimeMaxUSec --value colostack-rollout-nightly-noop.service") == "2h"


def test_scheduled_service_runs_the_playbook_and_writes_the_report(host):
    host.run("rm -rf /var/lib/colostack/rollouts/nightly-noop")
    started = host.run("systemctl start --wait colostack-rollout-nightly-noop.service")
    assert started.rc == 0, host.run(
        "journalctl -u colostack-rollout-nightly-noop --no-pager | tail -30").stdout
    report = json.loads(host.file("/var/lib/colostack/rollouts/nightly-noop/last.json")
                        .content_string)
    assert report["outcome"] == "succeeded"
    assert report["stats_data"] == {"noop_ran": True}
    assert report["deadline"] is not None
    assert host.file("/var/lib/colostack/rollouts/nightly-noop/last.json").user == "colostack"


def test_scheduled_runs_check_host_keys_against_the_managed_known_hosts(host):
    known = host.file("/var/lib/colostack/.ssh/known_hosts")
    assert known.content_string == (
        "hgx-h100-01.colo.example ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIMM8LV3ZOgb5lwpvQz1RG6FUmKZsR3U8mHa5l4Dh6k+Q\n")
    assert (known.user, known.mode) == ("colostack", 0o644)
    assert host.file("/var/lib/colostack/.ssh").mode == 0o700
    unit = "colostack-rollout-weekly-firmware.service"
    env = host.check_output(f"systemctl show -p Environment --value {unit}")
    assert "ANSIBLE_HOST_KEY_CHECKING=True" in env.split()
    execstart = host.check_output(f"systemctl show -p ExecStart --value {unit}")
    assert "--lock-file /var/lib/colostack/rollouts/rollout.lock" in execstart


def test_a_scheduled_run_holds_the_rollout_lock_only_while_it_runs(host):
    lock = host.file("/var/lib/colostack/rollouts/rollout.lock")
    assert lock.exists and lock.content_string == ""  # released by the run above
    report = json.loads(host.file("/var/lib/colostack/rollouts/nightly-noop/last.json")
                        .content_string)
    assert report["run_id"].startswith("control_node-d13:")
