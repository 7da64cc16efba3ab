"""pgBackRest under Patroni: the cluster is one stanza (its scope) on the repository host pg-ha-backup,
every member may archive to it, and backups run from whichever member leads.

Runs after test_failover.py (file order), when the leader has changed three times: archiving and
backups must have followed it with no step by hand, and the stanza restores onto a new host.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import yaml
from test_failover import CLIENT, MEMBERS, REPO, members, ssh

REPOSITORY = "pg-ha-backup"


def stanza() -> str:
    """The Patroni scope, as the postgresql role wrote it on the members."""
    scope: str = yaml.safe_load(ssh(MEMBERS[0], "cat /etc/patroni/config.yml").stdout)["scope"]
    return scope


def pgbackrest(command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return ssh(REPOSITORY, f"runuser -u postgres -- pgbackrest --stanza={stanza()} {command}", timeout=timeout)


def info() -> dict[str, Any]:
    done = pgbackrest("--output=json info")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)[0]
    return result


def test_the_cluster_is_one_stanza_naming_every_member_with_a_full_backup() -> None:
    conf = ssh(REPOSITORY, "cat /etc/pgbackrest/pgbackrest.conf").stdout
    assert f"[{stanza()}]" in conf
    assert all(f"pg{index}-host={member}" in conf for index, member in enumerate(MEMBERS, 1)), conf
    for member in MEMBERS:  # every member archives to the cluster's stanza
        setting = ssh(member, "runuser -u postgres -- psql -X -At -c 'SHOW archive_command'").stdout
        assert f"--stanza={stanza()} archive-push" in setting, (member, setting)
    current = info()
    assert current["status"]["code"] == 0, current["status"]
    assert [b["type"] for b in current["backup"]][:1] == ["full"]


def test_archiving_and_backups_follow_the_leader_after_failovers() -> None:
    leader = next(m["Member"] for m in members(MEMBERS[0]) if m["Role"] == "Leader")
    timeline = int(ssh(leader, "runuser -u postgres -- psql -X -At -c "
                               "'SELECT timeline_id FROM pg_control_checkpoint()'").stdout)
    assert timeline > 1, "no failover happened before this test"
    # check switches WAL on the current primary and waits for the segment in the repository.
    checked = pgbackrest("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert info()["archive"][0]["max"][:8] == f"{timeline:08X}"  # archived on the leader's timeline
    before = len(info()["backup"])
    backup = pgbackrest("--type=incr backup", timeout=600)
    assert backup.returncode == 0, backup.stdout + backup.stderr
    after = info()["backup"]
    assert len(after) == before + 1 and after[-1]["type"] == "incr"
    assert after[-1]["archive"]["start"][:8] == f"{timeline:08X}", after[-1]["archive"]


def test_the_cluster_stanza_restores_onto_a_new_host_with_every_row() -> None:
    """playbooks/db_restore.yml from the cluster's stanza (through any member's variables) onto the
    client host, to the end of the archive: the rows equal the leader's."""
    leader = next(m["Member"] for m in members(MEMBERS[0]) if m["Role"] == "Leader")
    count = "SELECT count(*), coalesce(max(id), 0) FROM failover_probe"
    expected = ssh(leader, f"runuser -u postgres -- psql -X -At -d colostack -c '{count}'").stdout.strip()
    assert expected and not expected.startswith("0|"), expected
    archived = pgbackrest("check")  # the last rows' WAL is in the repository
    assert archived.returncode == 0, archived.stderr
    run = subprocess.run(["ansible-playbook", str(REPO / "playbooks" / "db_restore.yml"),
                          "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-e", f"db_restore_source={MEMBERS[0]}",
                          "-e", f"db_restore_stanza={stanza()}", "-e", f"db_restore_target={CLIENT}"],
                         cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    restored = ssh(CLIENT, f"runuser -u postgres -- psql -X -At -d colostack -c '{count}'").stdout.strip()
    assert restored == expected
