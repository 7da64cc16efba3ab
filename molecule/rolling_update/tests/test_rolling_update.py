"""Rolling driver update over three hosts with a fault on host 2 (see molecule.yml).

Host 1 moves to branch B and is done; host 2's post-update validation fails, so it is rolled back to
branch A (driver and fabric manager), left drained and the rollout halts; host 3 is never touched.
Drain is the vllm role's own (STAND-IN vLLM behind the role's nginx proxy). The controller's run
report shows at most one host drained at any time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import ssh_host

A, B = "550.163.01", "570.172.08"
PACKAGES = ("nvidia-open", "nvidia-kernel-open-dkms", "libnvidia-ml1", "nvidia-smi", "nvidia-fabricmanager")
STATE = "/var/lib/colostack/rollout-state.json"
DRAIN_FLAG = "/etc/nginx/vllm-drained"  # the vllm role's drain flag


def host(n: int) -> Any:
    return ssh_host(f"rolling-update-h{n}")


def versions(h: Any) -> set[str]:
    out = h.check_output("dpkg-query -W -f='${Version}\\n' " + " ".join(PACKAGES))
    return set(out.split())


def state(h: Any) -> dict[str, Any]:
    return json.loads(h.file(STATE).content_string)


def proxy_health(h: Any) -> str:
    """HTTP status of the vllm role's proxy /health, which the gateway health-checks."""
    return str(h.check_output("curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1/health"))


def assert_serving(h: Any) -> None:
    assert h.service("vllm").is_running
    assert not h.file(DRAIN_FLAG).exists
    assert proxy_health(h) == "200"


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    report = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "rollout-report.jsonl"
    return [json.loads(line) for line in report.read_text().splitlines() if line]


def test_host1_updated_driver_and_fabric_manager_and_done():
    h = host(1)
    assert versions(h) == {f"{B}-1"}
    s = state(h)
    assert (s["state"], s["from"], s["to"]) == ("done", A, B)
    assert [e["state"] for e in s["history"]] == [
        "admitted", "drained", "updating", "validating", "validating", "done"]
    assert_serving(h)


def test_host2_rolled_back_to_branch_a_and_left_drained():
    h = host(2)
    assert versions(h) == {f"{A}-1"}
    held = set(h.check_output("apt-mark showhold").split())
    assert set(PACKAGES) <= held
    s = state(h)
    assert (s["state"], s["from"], s["to"]) == ("rolled_back", A, B)
    assert s["history"][-1]["event"] == "left_drained"
    assert "updating" in [e["state"] for e in s["history"]]
    assert h.file(DRAIN_FLAG).exists
    assert not h.service("vllm").is_running
    assert proxy_health(h) == "503"  # the gateway keeps the node out
    after = json.loads(h.file("/var/lib/colostack/after.json").content_string)
    assert after["verdict"] == "unhealthy"


def test_host3_untouched_on_branch_a():
    h = host(3)
    assert versions(h) == {f"{A}-1"}
    assert not h.file(STATE).exists
    assert_serving(h)


def test_report_never_has_two_hosts_drained(events):
    drains = [e for e in events if e["event"] in ("drain", "undrain")]
    assert [(e["host"], e["event"]) for e in drains] == [
        ("rolling-update-h1", "drain"), ("rolling-update-h1", "undrain"), ("rolling-update-h2", "drain")]
    drained: set[str] = set()
    for e in sorted(drains, key=lambda e: e["time"]):
        if e["event"] == "drain":
            drained.add(e["host"])
        else:
            drained.discard(e["host"])
        assert len(drained) <= 1, e


def test_report_records_final_states(events):
    last = {e["host"]: e["state"] for e in events}
    assert last == {"rolling-update-h1": "done", "rolling-update-h2": "rolled_back"}


def test_post_update_validation_ran_the_dcgm_diagnostics_only_after_the_change():
    """rolling_update_dcgm_diag_level 2 adds `--dcgm-diag 2` (STAND-IN dcgmi) after the change."""
    h = host(1)
    checks = {name: [r for r in json.loads(h.file(f"/var/lib/colostack/{name}.json").content_string)
                     ["results"] if r["check"].startswith("dcgm_")]
              for name in ("baseline", "after")}
    assert checks["baseline"] == []
    assert len(checks["after"]) == 25 and {r["status"] for r in checks["after"]} == {"pass"}
    assert "DCGM level 2 GPU Memory: Pass" in {r["reason"] for r in checks["after"]}
