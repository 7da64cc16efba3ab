"""Test-side access to a scenario's hosts over the SSH path Ansible uses (molecule/shared/create.yml).

testinfra's ansible backend reads the scenario inventory and ansible.cfg, so its commands share
the key, known host keys, bastion hop and ControlPersist master of the Ansible runs.
"""

from __future__ import annotations

import os
from typing import Any

import testinfra


def ssh_host(name: str) -> Any:
    """The named test host, reached over SSH."""
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
