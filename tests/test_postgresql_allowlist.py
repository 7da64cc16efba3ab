"""The postgresql role's allowlist parsing (roles/postgresql/vars/main.yml), on the controller.

pg_hba.conf and pgbouncer's HBA file are rendered from __postgresql_hba_cidrs; assert.yml refuses
__postgresql_hba_invalid_cidrs and (unless postgresql_hba_allow_any_address) __postgresql_hba_any_cidrs.
One localhost play evaluates them for many spellings; molecule/postgresql proves the refusal on a host.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent

ANY_ADDRESS = ["0.0.0.0/0", "::/0", "::0/0", "0::0/0", "0:0:0:0:0:0:0:0/0", "0/0", "0.0.0.0/00",
               "10.9.8.7/0", "0.0.0.0/0.0.0.0", "::ffff:0.0.0.0/96", "::ffff:0:0/96", "fe80::1/0"]
MALFORMED = ["10.0.0.0/33", "10.0.0.1", "bogus/8", " 10.0.0.0/8", "10.0.0.0/8\n", "10.0.0.0/8 ", "",
             "10.0.0.0/24,10.1.0.0/24", "::1/129", "300.0.0.0/8", "10.0.0.0/-1", "10.0.0.0/8; allow all"]
GOOD = {"10.20.0.0/24": "10.20.0.0/24", "10.20.0.11/32": "10.20.0.11/32", "10.20.0.7/24": "10.20.0.0/24",
        "fd00:20::/64": "fd00:20::/64", "::ffff:10.0.0.0/104": "::ffff:10.0.0.0/104",
        "192.168.1.0/255.255.255.0": "192.168.1.0/24"}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("allowlist")
    play = [{
        "name": "Evaluate the allowlist variables", "hosts": "localhost", "gather_facts": False,
        "vars_files": [str(REPO / "roles/postgresql/defaults/main.yml"), str(REPO / "roles/postgresql/vars/main.yml")],
        "tasks": [{
            "name": "Evaluate one entry",
            "ansible.builtin.debug": {"msg": "{{ {'invalid': __postgresql_hba_invalid_cidrs, 'any': "
                                             "__postgresql_hba_any_cidrs, 'cidrs': __postgresql_hba_cidrs "
                                             "if __postgresql_hba_invalid_cidrs | length == 0 else []} }}"},
            "vars": {"postgresql_hba_allowed_cidrs": ["{{ item }}"]},
            "loop": [*ANY_ADDRESS, *MALFORMED, *GOOD],
        }],
    }]
    (tmp / "play.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               ANSIBLE_CACHE_PLUGIN="memory")
    run = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", str(tmp / "play.yml")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(run.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["results"]
    return {r["item"]: r["msg"] for r in results}


@pytest.mark.parametrize("entry", ANY_ADDRESS)
def test_every_spelling_of_the_any_address_is_caught(evaluated: dict[str, dict[str, Any]], entry: str) -> None:
    assert evaluated[entry]["any"] == [entry]


@pytest.mark.parametrize("entry", MALFORMED)
def test_malformed_entries_are_refused(evaluated: dict[str, dict[str, Any]], entry: str) -> None:
    assert evaluated[entry]["invalid"] == [entry]


@pytest.mark.parametrize(("entry", "canonical"), GOOD.items())
def test_networks_are_written_canonically_after_loopback(evaluated: dict[str, dict[str, Any]],
                                                          entry: str, canonical: str) -> None:
    assert evaluated[entry]["invalid"] == []
    assert evaluated[entry]["any"] == []
    assert evaluated[entry]["cidrs"] == ["127.0.0.1/32", "::1/128", canonical]
