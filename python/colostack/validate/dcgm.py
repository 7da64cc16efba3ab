"""Optional DCGM diagnostics: `dcgmi diag -r LEVEL -j`, each test and GPU becoming a check.

dcgmi's JSON: {"DCGM GPU Diagnostic": {"test_categories": [{"category", "tests": [{"name",
"results": [{"gpu_id" | "gpu_ids" | "entity_id", "status", "warnings": [...], "info"}]}]}]}}.
Pass and Warn pass (a warning is shown in the reason), Fail fails, Skip is listed as a note,
any other status is unknown. A missing dcgmi, a timeout or output that is not this JSON is a
DcgmError: the run could not validate.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

from colostack.errors import one_line
from colostack.validate.model import CheckResult, Status

# Wall-clock limit per level: NVIDIA documents level 1 in about a minute and level 4 in hours.
TIMEOUT_S: dict[int, float] = {1: 300, 2: 1200, 3: 3600, 4: 4 * 3600}
_STATUS = {"pass": Status.PASS, "warn": Status.PASS, "fail": Status.FAIL}


class DcgmError(Exception):
    """dcgmi could not run or said nothing parseable."""


def _gpu(result: dict[str, Any]) -> int | None:
    for key in ("gpu_id", "entity_id", "gpu_ids"):
        value = result.get(key)
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return int(value)
    return None


def _messages(result: dict[str, Any]) -> str:
    found = []
    for warning in result.get("warnings") or []:
        text = warning.get("warning") if isinstance(warning, dict) else warning
        if text:
            found.append(one_line(str(text)))
    if result.get("info") and not found:
        found.append(one_line(str(result["info"])))
    return "; ".join(found)


def _check_name(test: str) -> str:
    return "dcgm_" + re.sub(r"[^a-z0-9]+", "_", test.lower()).strip("_")


def parse(data: Any, level: int) -> tuple[list[CheckResult], list[str]]:
    """Checks (one per test and GPU, or per test for host-wide tests) and notes on skipped ones."""
    try:
        categories = data["DCGM GPU Diagnostic"]["test_categories"]
        tests = [(t["name"], t.get("results") or []) for c in categories for t in c["tests"]]
    except (KeyError, TypeError) as exc:
        raise DcgmError(f"dcgmi diag -r {level} -j: not the diagnostic JSON "
                        f"(missing {exc})") from None
    results: list[CheckResult] = []
    skipped: list[str] = []
    for name, entries in tests:
        for entry in entries:
            status_text = str(entry.get("status", "")).strip()
            gpu = _gpu(entry)
            detail = _messages(entry)
            if status_text.lower() in ("skip", "not run"):
                skipped.append(f"DCGM level {level} {name} skipped"
                               + (f" on GPU {gpu}" if gpu is not None else "")
                               + (f": {detail}" if detail else ""))
                continue
            status = _STATUS.get(status_text.lower(), Status.UNKNOWN)
            reason = f"DCGM level {level} {name}: {status_text or 'no status'}" + (
                f": {detail}" if detail else "")
            results.append(CheckResult(_check_name(name), gpu, status, status_text, "Pass",
                                       reason))
    if not results:
        raise DcgmError(f"dcgmi diag -r {level} -j ran no test ({len(skipped)} skipped)")
    return results, skipped


def run_diag(level: int, binary: str = "dcgmi") -> tuple[list[CheckResult], list[str]]:
    path = shutil.which(binary)
    if path is None:
        raise DcgmError(f"--dcgm-diag {level}: {binary} not found on PATH (install DCGM: the "
                        "dcgm role)")
    try:
        done = subprocess.run([path, "diag", "-r", str(level), "-j"], capture_output=True,
                              text=True, timeout=TIMEOUT_S[level], check=False)
    except subprocess.TimeoutExpired:
        raise DcgmError(f"dcgmi diag -r {level} ran past {TIMEOUT_S[level]:g} s") from None
    try:  # dcgmi exits non-zero when a test fails; its JSON still says which
        data = json.loads(done.stdout)
    except ValueError:
        said = one_line(done.stderr or done.stdout)[:200] or "no output"
        raise DcgmError(f"dcgmi diag -r {level} -j exited {done.returncode} without JSON: "
                        f"{said}") from None
    return parse(data, level)
