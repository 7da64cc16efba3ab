"""The colostack runtime: one venv, the command on PATH, pinned versions, no index used."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PINS = dict(line.split("==") for line in (REPO / "constraints.txt").read_text().splitlines()
            if "==" in line and not line.startswith("#"))
VERSION = re.search(r'^version = "(.+)"', (REPO / "python/pyproject.toml").read_text(), re.MULTILINE)[1]


def test_colostack_on_path_reports_the_project_version(host):
    out = host.check_output("colostack --version")
    assert out == f"colostack {VERSION}"
    assert host.file("/usr/local/bin/colostack").linked_to == "/opt/colostack/venv/bin/colostack"


def test_dependencies_and_requirements_are_at_their_pins(host):
    frozen = dict(line.split("==") for line in
                  host.check_output("/opt/colostack/venv/bin/pip freeze").splitlines() if "==" in line)
    for name in ("nvidia-ml-py", "PyYAML", "rich", "redis"):
        assert frozen[name] == PINS[name], name


def test_validator_runs_from_the_runtime(host):
    out = host.run("colostack validate --help")
    assert out.rc == 0 and "--replay" in out.stdout


def test_wheelhouse_matches_the_host_python(host):
    minor = host.check_output("python3 -c 'import sys; print(sys.version_info.minor)'")
    wheels = host.check_output("ls /opt/colostack/wheelhouse").split()
    yaml_wheels = [w for w in wheels if w.lower().startswith("pyyaml-")]
    assert yaml_wheels and all(f"cp3{minor}" in w for w in yaml_wheels), wheels
    assert host.file(f"/opt/colostack/venv/lib/python3.{minor}").is_directory


def test_the_manifest_names_exactly_the_shipped_wheels(host):
    # The next converge ships the wheelhouse only when this manifest differs from the controller's.
    manifest = host.file("/opt/colostack/wheelhouse.sha1")
    assert (manifest.user, manifest.mode) == ("root", 0o644)
    names = sorted(line.split("  ", 1)[1] for line in manifest.content_string.splitlines())
    assert names == sorted(host.check_output("ls /opt/colostack/wheelhouse").split())
    assert host.run("cd /opt/colostack/wheelhouse && sha1sum --check --quiet ../wheelhouse.sha1").rc == 0
