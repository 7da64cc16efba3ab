"""Every role documents its interface once, in meta/argument_specs.yml.

Each default is prefixed and specified, defaults/main.yml holds the values the spec describes, and
the README's variable table is the one python/tools/role_docs.py generates from the spec.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO

ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks").is_dir())

_spec = importlib.util.spec_from_file_location("role_docs", REPO / "python/tools/role_docs.py")
assert _spec and _spec.loader
role_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(role_docs)


def _defaults_text(role: str) -> str:
    path = REPO / "roles" / role / "defaults" / "main.yml"
    return path.read_text() if path.exists() else ""


def _defaults(role: str) -> dict[str, Any]:
    return yaml.safe_load(_defaults_text(role)) or {}


def _spec_options(role: str) -> dict[str, Any]:
    spec = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return spec["argument_specs"]["main"].get("options") or {}


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_are_prefixed_specified_and_documented(role: str):
    readme = (REPO / "roles" / role / "README.md").read_text()
    public = set(_defaults(role)) | set(_spec_options(role))
    assert [v for v in public if not v.startswith(f"{role}_")] == []
    assert sorted(set(_defaults(role)) - set(_spec_options(role))) == []
    assert [v for v in sorted(public) if f"`{v}`" not in readme] == []


@pytest.mark.parametrize("role", ROLES)
def test_readme_variable_table_is_generated_from_argument_specs(role: str):
    readme = REPO / "roles" / role / "README.md"
    expected = role_docs.expected_readme(REPO / "roles" / role)
    assert readme.read_text() == expected, (
        f"{readme.relative_to(REPO)} differs from its argument_specs; run `{role_docs.REGENERATE}`"
    )


@pytest.mark.parametrize("role", ROLES)
def test_defaults_hold_the_values_the_argument_spec_documents(role: str):
    """Ansible never applies a spec's default, so defaults/main.yml must hold the same value."""
    defaults, options = _defaults(role), _spec_options(role)
    required_but_defaulted = [n for n, o in options.items() if o.get("required") and n in defaults]
    # A value in defaults/main.yml satisfies `required`, which would then never fail.
    assert required_but_defaulted == []
    # Undefined at run time: a spec default is documentation only.
    missing = [n for n, o in options.items() if not o.get("required") and n not in defaults]
    assert missing == []
    differing = {
        name: (defaults[name], option["default"])
        for name, option in options.items()
        if name in defaults and "default" in option
        and not (isinstance(defaults[name], str) and "{{" in defaults[name])
        and defaults[name] != option["default"]
    }
    assert differing == {}, "defaults/main.yml value, spec default"


@pytest.mark.parametrize("role", ROLES)
def test_defaults_carry_values_not_descriptions(role: str):
    """Comments may open the file (a pointer to the spec); none sits among the variables."""
    lines = _defaults_text(role).splitlines()
    first = next((i for i, line in enumerate(lines) if line[:1].isalpha()), len(lines))
    assert [line for line in lines[first:] if line.lstrip().startswith("#")] == []


@pytest.mark.parametrize("role", ROLES)
def test_internal_variables_are_marked_internal(role: str):
    path = Path(REPO / "roles" / role / "vars" / "main.yml")
    names = set(yaml.safe_load(path.read_text()) or {}) if path.exists() else set()
    assert [v for v in sorted(names) if not v.startswith(("__", "_"))] == []


def test_generator_adds_the_table_once_and_keeps_hand_written_text():
    specs = {"main": {"options": {
        "r_mode": {"type": "str", "choices": ["a", "b"], "default": "a", "description": "A | B <name>."},
        "r_key": {"type": "str", "required": True, "no_log": True, "description": "Key."},
        "r_mem_mb": {"type": "int", "description": "Half the RAM."},
        "r_items": {"type": "list", "elements": "dict", "default": [], "description": "Items.",
                    "options": {"name": {"type": "str", "required": True, "description": "Name."},
                                "limit": {"type": "str", "description": "Limit."}}},
    }}}
    block = role_docs.render(specs)
    assert "| `r_mode` | str: `a`, `b` | `a` | A \\| B &lt;name>. |" in block
    assert "| `r_key` | str, secret | required | Key. |" in block
    assert "| `r_mem_mb` | int | derived | Half the RAM. |" in block
    assert "| `r_items[].limit` | str | omitted | Limit. |" in block
    once = role_docs.updated_readme("# r\n\nHand-written.\n", block)
    assert once.startswith("# r\n\nHand-written.\n\n## Variables\n")
    assert role_docs.updated_readme(once, block) == once
