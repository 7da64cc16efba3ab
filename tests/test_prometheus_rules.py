"""The colostack alert rules pass `promtool test rules`: every rule fires on its fault and stays quiet
on a healthy site (tests/data/prometheus/colostack_rules_test.yml).

The rules are the prometheus role's template, rendered as Ansible renders it ([[ ]] are Ansible's
delimiters there; {{ }} stay for Prometheus) with pinned durations and thresholds. promtool comes
from Debian's prometheus package (Makefile APT_PACKAGES).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from conftest import REPO

ROLE = REPO / "roles" / "prometheus"
TEMPLATE = ROLE / "templates" / "colostack.rules.yml.j2"
CASES = REPO / "tests" / "data" / "prometheus" / "colostack_rules_test.yml"
# The values the test cases are written against (the role's defaults, with a shorter prometheus_alert_for).
PINNED = {"prometheus_alert_for": "5m"}
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool missing: run `make deps`")


def render(values: dict[str, Any]) -> str:
    header, body = TEMPLATE.read_text().split("\n", 1)
    assert header.startswith("#jinja2:variable_start_string:'[['")
    env = jinja2.Environment(variable_start_string="[[", variable_end_string="]]",
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(body).render(values)


def defaults() -> dict[str, Any]:
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def alert_names(rules_text: str) -> set[str]:
    return {r["alert"] for g in yaml.safe_load(rules_text)["groups"] for r in g["rules"] if "alert" in r}


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@needs_promtool
def test_rules_rendered_with_the_role_defaults_pass_promtool_check(tmp_path: Path):
    (tmp_path / "colostack.rules.yml").write_text(render(defaults()))
    run = promtool("check", "rules", "colostack.rules.yml", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


@needs_promtool
def test_every_alert_fires_on_its_fault_and_stays_quiet_on_a_healthy_site(tmp_path: Path):
    (tmp_path / "colostack.rules.yml").write_text(render({**defaults(), **PINNED}))
    shutil.copy(CASES, tmp_path / CASES.name)
    run = promtool("test", "rules", CASES.name, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout + run.stderr


def test_every_alert_has_a_firing_and_a_quiet_case():
    alerts = alert_names(render({**defaults(), **PINNED}))
    cases = [c for t in yaml.safe_load(CASES.read_text())["tests"] for c in t["alert_rule_test"]]
    firing = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert sorted(alerts - firing) == []
    assert sorted(alerts - quiet) == []
    assert sorted((firing | quiet) - alerts) == []


def test_alert_durations_follow_the_role_variables():
    rules = yaml.safe_load(render({**defaults(), "prometheus_alert_for": "7m", "prometheus_alert_for_down": "11s"}))
    durations = {r["alert"]: r.get("for") for g in rules["groups"] for r in g["rules"]}
    assert durations["ColostackVllmDown"] == "11s"
    assert durations["ColostackVllmKvCacheSaturated"] == "7m"
