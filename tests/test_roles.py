"""Every role documents its interface: each default is prefixed, in argument_specs, and in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import REPO

ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks").is_dir())


def _defaults(role: str) -> set[str]:
    path = REPO / "roles" / role / "defaults" / "main.yml"
    return set(yaml.safe_load(path.read_text()) or {}) if path.exists() else set()


def _spec_options(role: str) -> set[str]:
    spec = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return set(spec["argument_specs"]["main"].get("options", {}))


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_are_prefixed_specified_and_documented(role: str):
    readme = (REPO / "roles" / role / "README.md").read_text()
    public = _defaults(role) | _spec_options(role)
    assert [v for v in public if not v.startswith(f"{role}_")] == []
    assert sorted(_defaults(role) - _spec_options(role)) == []
    assert [v for v in sorted(public) if f"`{v}`" not in readme] == []


@pytest.mark.parametrize("role", ROLES)
def test_internal_variables_are_marked_internal(role: str):
    path = Path(REPO / "roles" / role / "vars" / "main.yml")
    names = set(yaml.safe_load(path.read_text()) or {}) if path.exists() else set()
    assert [v for v in sorted(names) if not v.startswith(("__", "_"))] == []
