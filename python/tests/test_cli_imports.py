"""Every host runs `colostack`, but only some have the optional extras (psycopg, redis, openai,
matplotlib): the command line must start without them and import each where it is used."""

from __future__ import annotations

import subprocess
import sys

OPTIONAL = ("psycopg", "redis", "openai", "httpx2", "matplotlib", "ansible_runner")


def test_cli_starts_without_the_optional_extras() -> None:
    block = "; ".join(f"sys.modules[{name!r}] = None" for name in OPTIONAL)  # import fails
    code = f"import sys; {block}; from colostack.cli import main; sys.exit(main(['--version']))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("colostack ")
