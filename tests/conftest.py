"""Shared helpers for the repository-level tests (lint gates and Molecule scenarios)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / ".artifacts"


def run_logged(cmd: list[str], name: str, cwd: Path = REPO, timeout: int = 3600) -> tuple[int, str]:
    """Run a command, keep its full log under .artifacts/, return (exit code, output)."""
    ARTIFACTS.mkdir(exist_ok=True)
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", PY_COLORS="0", NO_COLOR="1")
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    out = proc.stdout + proc.stderr
    (ARTIFACTS / f"{name}.log").write_text(out)
    return proc.returncode, out


def tail(text: str, lines: int = 80) -> str:
    return "\n".join(text.splitlines()[-lines:])
