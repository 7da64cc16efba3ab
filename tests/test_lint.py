"""Static gates: ruff, mypy (strict) and ansible-lint (production profile) report zero findings."""

from __future__ import annotations

from conftest import REPO, run_logged, tail


def test_ruff_reports_no_findings():
    code, out = run_logged(["ruff", "check", "python", "bench", "tests", "molecule", "playbooks", "plugins"], "ruff")
    assert code == 0, tail(out)


def test_mypy_strict_is_clean():
    code, out = run_logged(["mypy"], "mypy", cwd=REPO / "python")
    assert code == 0, tail(out)


def test_ansible_lint_production_profile_is_clean():
    code, out = run_logged(["ansible-lint"], "ansible-lint")
    assert code == 0, tail(out)
    assert "Passed" in out, tail(out)


def test_roles_never_ignore_errors():
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "roles").rglob("*.yml")
        if "ignore_errors" in p.read_text()
    ]
    assert offenders == []
