"""systemd sandbox scores of the units the roles install, read on the real test hosts.

`systemd-analyze security` rates a loaded unit's exposure from 0.0 (locked down) to 10.0 (none of
its protections). Each scenario's tests/test_hardening.py asserts its units stay at or below the
threshold in MAX_EXPOSURE, and prints the score next to a baseline: the same unit file with the
sandbox settings stripped, rated offline, as the roles installed it before the sandbox existed.
"""

from __future__ import annotations

import re
from typing import Any

# Highest accepted exposure per unit (lower is safer): the score measured when the sandbox was
# written, plus a little room for systemd releases that weigh settings differently. A change
# that loosens a unit fails here; tighten the number when a unit gets stricter.
MAX_EXPOSURE: dict[str, float] = {
    # Non-root units carry no seccomp-based settings (see their templates): about 5 on systemd 257.
    "vllm.service": 6.0,                    # venv method: GPUs (DeviceAllow), network, JIT (no MDWE)
    "colostack-validate.service": 2.5,      # root for NVML power caps: CAP_SYS_ADMIN only, no network
    "colostack-cost-agent.service": 3.5,    # root for NVML's process list and storage sizes
    "colostack-rollout-nightly-noop.service": 6.0,  # the rollout user, Ansible over SSH
    "colostack-pg-maintenance.service": 5.3,  # psql as postgres over the local socket
}

# Settings the roles added for the sandbox; stripping them gives the baseline of the report.
SANDBOX_KEYS = re.compile(
    r"^(NoNewPrivileges|Protect\w+|Private\w+|Restrict\w+|ReadWritePaths|Device\w+|LockPersonality"
    r"|MemoryDenyWriteExecute|SystemCall\w+|CapabilityBoundingSet|AmbientCapabilities|UMask"
    r"|IPAddressDeny|ProcSubset)=")
_OVERALL = re.compile(r"Overall exposure level for \S+: ([0-9]+\.[0-9]+)")


def _parse(output: str, what: str) -> float:
    match = _OVERALL.search(output)
    assert match, f"no overall exposure level in systemd-analyze security output for {what}:\n{output}"
    return float(match.group(1))


def exposure(host: Any, unit: str) -> float:
    """The loaded unit's exposure, as the running systemd sees it (`--offline=no`)."""
    out = host.run(f"systemd-analyze security --offline=no --no-pager {unit}")
    assert out.rc == 0, out.stderr
    return _parse(out.stdout, unit)


def baseline_exposure(host: Any, unit: str) -> float:
    """Exposure of the unit file without its sandbox settings, rated offline from a scratch copy."""
    text = host.check_output(f"systemctl cat --no-pager {unit}")
    stripped = "\n".join(line for line in text.splitlines() if not SANDBOX_KEYS.match(line))
    scratch = f"/tmp/colostack-baseline/{unit}"
    host.run("mkdir -p /tmp/colostack-baseline")
    host.run(f"cat > {scratch} <<'__UNIT__'\n{stripped}\n__UNIT__")
    out = host.run(f"systemd-analyze security --offline=yes --no-pager {scratch}")
    host.run("rm -rf /tmp/colostack-baseline")
    return _parse(out.stdout, f"{unit} without its sandbox")


def check_unit(host: Any, unit: str) -> None:
    """Assert the unit's threshold and print its score next to the baseline (pytest -s / -rA shows it)."""
    score = exposure(host, unit)
    before = baseline_exposure(host, unit)
    print(f"systemd-analyze security {unit} on {host.backend.get_hostname()}: "
          f"{score:.1f} (without the sandbox {before:.1f}, threshold {MAX_EXPOSURE[unit]})")
    assert score <= MAX_EXPOSURE[unit], (
        f"{unit}: exposure {score} above its threshold {MAX_EXPOSURE[unit]} (molecule/sandbox_scores.py)")
    assert score < before
