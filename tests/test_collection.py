"""The repository builds into the collection colostack.infra, which installs on its own and documents
every role. molecule/site runs site.yml from such an installed copy against a test host."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks").is_dir())


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """(tarball, install dir, env): installed offline into an empty collections path, which is then the
    only one Ansible searches besides the venv's bundled collections."""
    root = tmp_path_factory.mktemp("collection")
    installed = root / "collections"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_ROLES_PATH=str(root / "no-roles"),
               ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="true")
    _run(["ansible-galaxy", "collection", "build", "--output-path", str(root), str(REPO)], env, root)
    tarball = next(root.glob("colostack-infra-*.tar.gz"))
    _run(["ansible-galaxy", "collection", "install", "--offline", "-p", str(installed), str(tarball)], env, root)
    return tarball, installed, env


def test_artifact_holds_the_content_and_nothing_of_the_checkout(built: tuple[Path, Path, dict[str, str]]):
    with tarfile.open(built[0]) as tar:
        tops = {name.split("/")[0] for name in tar.getnames()}
        names = set(tar.getnames())
    assert tops == {"CHANGELOG.md", "FILES.json", "MANIFEST.json", "README.md", "constraints.txt", "meta",
                    "playbooks", "plugins", "python", "requirements.yml", "roles", "site.yml"}
    # colostack_runtime builds its wheel on the controller from the shipped source and pins.
    assert {"python/pyproject.toml", "python/colostack/cli.py"} <= names
    assert not any("/tests/" in n or "__pycache__" in n for n in names)


def test_dependencies_resolve_to_the_collections_the_pinned_ansible_bundles(
        built: tuple[Path, Path, dict[str, str]]):
    _, installed, env = built
    listed = _run(["ansible-galaxy", "collection", "list", "colostack.infra"], env, installed)
    assert f"# {installed}/ansible_collections" in listed, listed
    assert [p.name for p in (installed / "ansible_collections").iterdir()] == ["colostack"]


@pytest.fixture(scope="module")
def role_docs(built: tuple[Path, Path, dict[str, str]]) -> dict[str, Any]:
    _, installed, env = built
    out = _run(["ansible-doc", "-t", "role", "--json", *(f"colostack.infra.{r}" for r in ROLES)], env, installed)
    docs: dict[str, Any] = json.loads(out)
    return docs


@pytest.mark.parametrize("role", ROLES)
def test_installed_collection_documents_the_role(built: tuple[Path, Path, dict[str, str]],
                                                 role_docs: dict[str, Any], role: str):
    doc = role_docs[f"colostack.infra.{role}"]
    assert doc["path"] == str(built[1] / "ansible_collections/colostack/infra")
    assert doc["entry_points"]["main"]["short_description"]


def test_installed_collection_documents_the_rollout_state_module(built: tuple[Path, Path, dict[str, str]]):
    _, installed, env = built
    out = _run(["ansible-doc", "-t", "module", "--json", "colostack.infra.colostack_rollout_state"], env, installed)
    doc = json.loads(out)["colostack.infra.colostack_rollout_state"]["doc"]
    assert sorted(doc["options"]) == ["content", "op", "path"]
