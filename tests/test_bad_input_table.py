"""The bad-input table covers every role variable, and the input checker refuses what it should.

tests/data/bad_input.yml is run against a test host by molecule/bad_input; here, with no host,
every variable of every entry point in every role's meta/argument_specs.yml must have a row (two
or more for a free-form string), so adding a variable without a bad value fails `make check`.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Any

import pytest
import yaml
from conftest import REPO

TABLE: dict[str, Any] = yaml.safe_load((REPO / "tests/data/bad_input.yml").read_text())
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "meta/argument_specs.yml").is_file())

_spec = importlib.util.spec_from_file_location(
    "colostack_check_vars", REPO / "plugins/action/colostack_check_vars.py")
assert _spec and _spec.loader
checker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checker)


def _options(role: str) -> dict[str, Any]:
    specs = yaml.safe_load((REPO / "roles" / role / "meta/argument_specs.yml").read_text())
    options: dict[str, Any] = {}
    for entry in specs["argument_specs"].values():
        options.update(entry.get("options") or {})
    return options


def _rows(role: str) -> dict[str, list[Any]]:
    spec = TABLE.get(role) or {}
    rows: dict[str, list[Any]] = {}
    for var, values in (spec.get("bad") or {}).items():
        rows.setdefault(var, []).extend(values)
    for table in (spec.get("pending") or {}).values():
        for var, values in table.items():
            rows.setdefault(var, []).extend(values)
    return rows


@pytest.mark.parametrize("role", ROLES)
def test_every_role_variable_has_bad_values_in_the_table(role: str):
    rows = _rows(role)
    missing = [v for v in _options(role) if not rows.get(v)]
    assert missing == [], f"add bad values for these {role} variables to tests/data/bad_input.yml"
    free_form = [v for v, o in _options(role).items()
                 if o.get("type", "str") == "str" and "choices" not in o and len(rows[v]) < 2]
    assert free_form == [], "free-form strings need two or more bad values"


@pytest.mark.parametrize("role", ROLES)
def test_the_table_names_only_variables_the_role_has(role: str):
    assert sorted(set(_rows(role)) - set(_options(role))) == []
    assert sorted(set((TABLE.get(role) or {}).get("good") or {}) - set(_options(role))
                  - {"nvidia_driver_matrix_row", "nvidia_driver_version"}) == []


def test_the_table_has_only_roles_of_the_collection():
    assert sorted(set(TABLE) - set(ROLES)) == []


def test_table_size_is_reported(capsys: pytest.CaptureFixture[str]):
    variables = sum(len(_options(r)) for r in ROLES)
    values = sum(len(v) for r in ROLES for v in _rows(r).values())
    with capsys.disabled():
        print(f"\nbad-input table: {variables} variables, {values} bad values")
    assert values >= variables


@pytest.mark.parametrize(("rule", "value"), [
    ({"port": True}, 0), ({"port": True}, 65536), ({"port": True}, True),
    ({"min": 0, "max": 1}, math.nan), ({"min": 0, "max": 1}, math.inf), ({"min": 1}, 0),
    ({"regex": "[0-9]+"}, "12\n"), ({"regex": "[0-9]+"}, "12a"), ({}, "a\nb"), ({}, " a"), ({}, ""),
    ({"abspath": True}, "rel/path"), ({"abspath": True}, "/"), ({"abspath": "strict"}, "/a/../b"),
    ({"user": True}, "root"), ({"user": True}, "Bad"),
    ({"ip": True}, "0.0.0.0"), ({"ip": True}, "::"), ({"ip": True}, "0:0::0"), ({"ip": True}, "::ffff:0.0.0.0"),
    ({"ip": True}, "localhost"), ({"host": True}, "a b"), ({"host": True}, "0.0.0.0"),
    ({"cidr": True}, "0.0.0.0/0"), ({"cidr": True}, "::/0"), ({"cidr": True}, "10.0.0.1/24"),
    ({"cidr": True}, "10.0.0.1"), ({"cidr": True}, "all"),
    # Every address in other spellings (pg_hba.conf, pgbouncer's HBA and nginx allowlists use this rule).
    *(({"cidr": True}, v) for v in ("::0/0", "0::0/0", "0:0:0:0:0:0:0:0/0", "0/0", "0.0.0.0/00",
                                    "10.9.8.7/0", "0.0.0.0/0.0.0.0", "::ffff:0.0.0.0/96", "::ffff:0:0/96",
                                    "fe80::1/0")),
    *(({"cidr": True}, v) for v in ("10.0.0.0/33", "bogus/8", " 10.0.0.0/8", "10.0.0.0/8\n",
                                    "10.0.0.0/24,10.1.0.0/24", "::1/129", "300.0.0.0/8", "10.0.0.0/-1",
                                    "10.0.0.0/8; allow all", "192.168.1.0/255.255.255.0")),
    ({"url": ["https"]}, "http://x/"), ({"url": ["https"]}, "https://x/a b"),
    ({"secret": True}, "change-me"), ({"secret": True}, "REPLACE_ME"), ({"secret": True}, "aaaaaaaaaaaaaaaa"),
    ({"secret": True}, "the-password-this-file-is-encrypted-with"),
    ({"nonempty": True}, []), ({"unique": True}, ["a", "a"]), ({"items": {"regex": "[a-z]+"}}, ["A"]),
    ({"fields": {"a": {}}}, {"b": 1}), ({"keys": {"regex": "[a-z]+"}}, {"A": 1}),
    ({"valid_regex": True}, "(a"), ({"number_or_percent": True}, "0%"), ({"number_or_percent": True}, "101%"),
    ({"forbid": ";"}, "a;b"),
    # Extra vars arrive as strings: the number they spell is checked.
    ({"min": 60, "max": 7200}, "30"), ({"port": True}, "70000"), ({"min": 1}, "-1"),
])
def test_the_checker_refuses_and_names_the_variable(rule: dict[str, Any], value: Any):
    errors = checker.check("some_var", value, rule)
    assert errors and all(e.startswith("some_var") for e in errors)


@pytest.mark.parametrize(("rule", "value"), [
    ({"port": True}, 443), ({"min": 0, "max": 1}, 0.5), ({"regex": "[0-9]+"}, "12"),
    ({"abspath": True}, "/opt/x"), ({"user": True}, "vllm"), ({"ip": True}, "127.0.0.1"),
    ({"ip": True}, "::1"), ({"host": True}, "db-1.example.net"), ({"cidr": True}, "10.20.0.0/24"),
    ({"cidr": True}, "fd00::/64"), ({"cidr": True}, "::ffff:10.0.0.0/104"),
    ({"cidr": True, "any_address": True}, "0.0.0.0/0"), ({"url": ["https", "http"]}, "http://127.0.0.1:8088/"),
    ({"secret": True, "min_len": 16}, "Xk3vQ9pL2mW7rT5y"), ({"empty_ok": True, "abspath": True}, ""),
    ({"allow": ["*"], "host": True}, "*"), ({"number_or_percent": True, "min": 1}, "25%"),
    ({"number_or_percent": True, "min": 1}, 2), ({"min": 60, "max": 7200}, "900"), ({"port": True}, "443"),
    ({"min": 0, "max": 1}, "0.5"),
])
def test_the_checker_accepts_good_values(rule: dict[str, Any], value: Any):
    assert checker.check("some_var", value, rule) == []


def test_a_secret_is_never_shown():
    errors = checker.check("pw", "hunter2-changeme", {"secret": True, "min_len": 20})
    assert len(errors) == 2 and not any("hunter2" in e for e in errors)
