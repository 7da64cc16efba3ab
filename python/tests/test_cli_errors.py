"""Every colostack command answers bad input with one stderr line that names the input, and the
documented exit code (2 unless a command documents another), never a Python traceback.

The table runs the real CLI (`python -m colostack`) in a folder of malformed files, so the
messages hold relative names. `python tests/test_cli_errors.py` rewrites tests/CLI_ERRORS.md
from the same table for people to read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

HERE = Path(__file__).resolve().parent
HEALTHY = HERE.parents[1] / "tests" / "data" / "validate" / "h100-sxm-healthy.synthetic.json"
WINDOW = '{"start": "Sat 02:00", "duration": "4h", "timezone": "UTC"}'
CARD = {"currency": "USD", "hardware_per_gpu_hour": 1.5, "power_per_kwh": 0.2, "pue": 1.35,
        "colo_rent_per_month": 5000, "storage_per_gb_month": 0.1}
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


class Case(NamedTuple):
    argv: tuple[str, ...]
    names: str  # the message must contain this: the option, file or field at fault
    code: int = 2


def _recording(**changes: Any) -> str:
    """The healthy recording with GPU 0's readings changed (or removed, for None)."""
    data = json.loads(HEALTHY.read_text())
    for key, value in changes.items():
        data["gpus"][0][key.replace("_", ".", 1) if "." not in key else key] = value
    return json.dumps(data)


def _files() -> dict[str, str]:
    data = json.loads(HEALTHY.read_text())
    system = dict(data, system={**data["system"], "gpu_count": -1})
    return {
        "nan.json": _recording(**{"temp.gpu": 0}).replace('"temp.gpu": 0', '"temp.gpu": NaN'),
        "inf.json": _recording(**{"power.usage_mw": 0}).replace(
            '"power.usage_mw": 0', '"power.usage_mw": Infinity'),
        "huge.json": _recording(**{"temp.memory": 0}).replace('"temp.memory": 0',
                                                              '"temp.memory": 1e999'),
        "hot.json": _recording(**{"temp.gpu": 151}),
        "frozen.json": _recording(**{"temp.gpu": -60}),
        "hot-threshold.json": _recording(**{"temp.threshold.slowdown": 400}),
        "ecc-negative.json": _recording(**{"ecc.volatile.dram.uncorrected": -1}),
        "remap-negative.json": _recording(**{"remap.pending": -3}),
        "bw-negative.json": _recording(**{"load.bandwidth_gbps": [3000, -5, 3000]}),
        "bw-absurd.json": _recording(**{"load.bandwidth_gbps": [3000, 99999, 3000]}),
        "power-negative.json": _recording(**{"power.enforced_limit_mw": -700000}),
        "constraints-swapped.json": _recording(**{"power.limit_constraints_mw": [700000, 2]}),
        "pcie-gen-absurd.json": _recording(**{"load.pcie_gen": 42}),
        "nvlink-negative.json": _recording(**{"nvlink.recovery_errors": [0, -1]}),
        "temp-string.json": _recording(**{"temp.gpu": "hot"}),
        "temp-null.json": _recording(**{"temp.gpu": None}),
        "gpu-count-negative.json": json.dumps(system),
        "wrong-format.json": json.dumps({"format": "something-else", "gpus": []}),
        "list.json": "[1, 2, 3]\n",
        "truncated.json": HEALTHY.read_text()[:200],
        "gpus-not-list.json": json.dumps({"format": data["format"], "gpus": {"0": {}}}),
        "empty.json": "",
        "baseline-bad.json": json.dumps({"results": [{"check": "hbm_bandwidth"}]}),
        "tco-unknown.yml": yaml.safe_dump({"gpu": 8}),
        "tco-negative.yml": yaml.safe_dump({"cloud": {"per_gpu_month": -1}}),
        "tco-nan.yml": "self_hosted:\n  pue: .nan\n",
        "tco-pue.yml": yaml.safe_dump({"self_hosted": {"pue": 0.9}}),
        "tco-hours.yml": yaml.safe_dump({"hours_per_day": 25}),
        "tco-billing.yml": yaml.safe_dump({"cloud": {"billing": "weekly"}}),
        "tco-not-mapping.yml": yaml.safe_dump({"cloud": 3}),
        "tco-syntax.yml": "cloud: [unclosed\n",
        "tco-list.yml": "- 1\n- 2\n",
        "card-negative.yml": yaml.safe_dump({**CARD, "power_per_kwh": -1}),
        "card-missing.yml": yaml.safe_dump({k: v for k, v in CARD.items() if k != "pue"}),
        "card-pue.yml": yaml.safe_dump({**CARD, "pue": 0.5}),
        "card-text.yml": yaml.safe_dump({**CARD, "power_per_kwh": "cheap"}),
        "card-inf.yml": yaml.dump({**CARD, "colo_rent_per_month": float("inf")}),
        "card-list.yml": "- 1\n",
        "card-ok.yml": yaml.safe_dump({"cost_agent_rate_card": CARD}),
        "vars-no-window.json": json.dumps({"_meta": {"hostvars": {"gpu-1": {}}}}),
        "vars-bad-duration.yml": yaml.safe_dump(
            {"gpu-1": {"colostack_maintenance_window": {"start": "Sat 02:00",
                                                        "duration": "-4h"}}}),
        "vars-bad-zone.yml": yaml.safe_dump(
            {"gpu-1": {"colostack_maintenance_window": {"start": "Sat 02:00", "duration": "4h",
                                                        "timezone": "Mars/Olympus"}}}),
        "vars-hostvars-list.json": json.dumps({"_meta": {"hostvars": ["gpu-1"]}}),
        "vars-list.yml": "- gpu-1\n",
        "profile-bad.jsonl": '{"format": "colostack-profile/1", "synthetic": true}\n[1, 2]\n',
        "profile-wrong.jsonl": '{"format": "other"}\n',
        "agent-no-redis.yml": yaml.safe_dump({"labels": {}}),
        "agent-syntax.yml": "labels: {a: [\n",
        "play.yml": "- hosts: all\n  tasks: []\n",
        "hosts.ini": "localhost\n",
    }


V = ("validate", "--replay")
W = ("window", "next", "--host", "gpu-1")
C = ("window", "check", "--host", "gpu-1")
R = ("rollout", "play.yml", "-i", "hosts.ini", "--report-dir", "reports",
     "--lock-file", "rollout.lock")
CB = ("chargeback", "--month", "2026-11", "--redis-url", DEAD_REDIS, "--rate-card")

CASES: dict[str, Case] = {
    # validate: options
    "validate xid window negative": Case(("validate", "--xid-window", "-5"), "--xid-window"),
    "validate bandwidth floor negative": Case(("validate", "--bandwidth-floor", "-1"),
                                              "--bandwidth-floor"),
    "validate bandwidth floor above 1": Case(("validate", "--bandwidth-floor", "1.5"),
                                             "--bandwidth-floor"),
    "validate bandwidth floor nan": Case(("validate", "--bandwidth-floor", "nan"),
                                         "--bandwidth-floor"),
    "validate bandwidth reps zero": Case(("validate", "--bandwidth-reps", "0"),
                                         "--bandwidth-reps"),
    "validate expect gpus zero": Case(("validate", "--expect-gpus", "0"), "--expect-gpus"),
    "validate timeout zero": Case(("validate", "--timeout", "0"), "--timeout"),
    "validate temp margin inf": Case(("validate", "--temp-margin", "inf"), "--temp-margin"),
    "validate power cap text": Case(("validate", "--set-power-cap", "lots"), "--set-power-cap"),
    "validate power cap negative": Case(("validate", "--expect-power-cap", "0=-5"),
                                        "--expect-power-cap"),
    "validate power cap no such gpu": Case((*V, str(HEALTHY), "--set-power-cap", "9=600"),
                                           "no GPU 9"),
    "validate replay and record": Case(("validate", "--replay", "a", "--record", "b"),
                                       "--record"),
    # validate: recordings
    "validate recording missing": Case((*V, "missing.json"), "missing.json"),
    "validate recording is a folder": Case((*V, "."), "recording ."),
    "validate recording empty": Case((*V, "empty.json"), "empty.json"),
    "validate recording truncated": Case((*V, "truncated.json"), "truncated.json"),
    "validate recording a list": Case((*V, "list.json"), "list.json"),
    "validate recording wrong format": Case((*V, "wrong-format.json"), "format"),
    "validate recording gpus not a list": Case((*V, "gpus-not-list.json"), "gpus"),
    "validate recording NaN": Case((*V, "nan.json"), "NaN"),
    "validate recording Infinity": Case((*V, "inf.json"), "Infinity"),
    "validate recording 1e999": Case((*V, "huge.json"), "1e999"),
    "validate temperature 151 C": Case((*V, "hot.json"), "gpus[0].temp.gpu"),
    "validate temperature -60 C": Case((*V, "frozen.json"), "gpus[0].temp.gpu"),
    "validate threshold 400 C": Case((*V, "hot-threshold.json"),
                                     "gpus[0].temp.threshold.slowdown"),
    "validate ECC counter negative": Case((*V, "ecc-negative.json"),
                                          "gpus[0].ecc.volatile.dram.uncorrected"),
    "validate remap counter negative": Case((*V, "remap-negative.json"), "remap.pending"),
    "validate bandwidth negative": Case((*V, "bw-negative.json"), "load.bandwidth_gbps[1]"),
    "validate bandwidth 99999 GB/s": Case((*V, "bw-absurd.json"), "load.bandwidth_gbps[1]"),
    "validate power limit negative": Case((*V, "power-negative.json"),
                                          "power.enforced_limit_mw"),
    "validate constraints min above max": Case((*V, "constraints-swapped.json"),
                                               "limit_constraints_mw"),
    "validate PCIe gen 42": Case((*V, "pcie-gen-absurd.json"), "load.pcie_gen"),
    "validate NVLink error count negative": Case((*V, "nvlink-negative.json"),
                                                 "nvlink.recovery_errors[1]"),
    "validate temperature text": Case((*V, "temp-string.json"), "temp.gpu"),
    "validate temperature null": Case((*V, "temp-null.json"), "temp.gpu"),
    "validate gpu count negative": Case((*V, "gpu-count-negative.json"), "system.gpu_count"),
    "validate baseline missing": Case((*V, str(HEALTHY), "--baseline", "nope.json"),
                                      "nope.json"),
    "validate baseline malformed": Case((*V, str(HEALTHY), "--baseline", "baseline-bad.json"),
                                        "results[0].gpu"),
    "validate json report folder missing": Case((*V, str(HEALTHY), "--quiet", "--json",
                                                 "no/such/dir/r.json"), "no/such/dir"),
    # window
    "window no subcommand": Case(("window",), "window_command"),
    "window next count zero": Case((*W, "--window", WINDOW, "--count", "0"), "--count"),
    "window next count text": Case((*W, "--window", WINDOW, "--count", "many"), "--count"),
    "window next naive now": Case((*W, "--window", WINDOW, "--now", "2026-01-01T00:00"),
                                  "--now"),
    "window next now not a time": Case((*W, "--window", WINDOW, "--now", "soon"), "--now"),
    "window window not JSON": Case((*W, "--window", "{"), "--window"),
    "window window a list": Case((*W, "--window", "[]"), "colostack_maintenance_window"),
    "window window NaN duration": Case((*W, "--window", '{"start": "02:00", "duration": NaN}'),
                                       "--window"),
    "window window unknown key": Case(
        (*W, "--window", '{"start": "02:00", "duration": "1h", "zone": "UTC"}'), "zone"),
    "window window bad zone": Case(
        (*W, "--window", '{"start": "02:00", "duration": "1h", "timezone": "Mars"}'),
        "timezone"),
    "window check negative duration": Case((*C, "--window", WINDOW,
                                            "--expected-duration=-5m"), "--expected-duration"),
    "window check zero duration": Case((*C, "--window", WINDOW, "--expected-duration", "0m"),
                                       "--expected-duration"),
    "window check missing duration": Case((*C, "--window", WINDOW), "--expected-duration"),
    "window vars file missing": Case((*W, "--vars-file", "nope.yml"), "nope.yml"),
    "window vars file no window": Case((*W, "--vars-file", "vars-no-window.json"),
                                       "colostack_maintenance_window"),
    "window vars file negative duration": Case((*W, "--vars-file", "vars-bad-duration.yml"),
                                               "duration"),
    "window vars file bad zone": Case((*W, "--vars-file", "vars-bad-zone.yml"), "timezone"),
    "window vars file hostvars a list": Case((*W, "--vars-file", "vars-hostvars-list.json"),
                                             "hostvars"),
    "window vars file a list": Case((*W, "--vars-file", "vars-list.yml"), "vars-list.yml"),
    "window vars file unknown host": Case(("window", "next", "--host", "gpu-9", "--vars-file",
                                           "vars-no-window.json"), "gpu-9"),
    # rollout
    "rollout naive deadline": Case((*R, "--deadline", "2026-01-01T00:00"), "--deadline"),
    "rollout window not JSON": Case((*R, "--window", "{"), "--window"),
    "rollout window no duration": Case((*R, "--window", '{"start": "02:00"}'), "duration"),
    "rollout extra vars malformed": Case((*R, "-e", "{a: [1"), "--extra-vars"),
    "rollout extra vars no key": Case((*R, "-e", "=1"), "--extra-vars"),
    "rollout window and deadline": Case((*R, "--window", WINDOW, "--deadline",
                                         "2026-01-01T00:00+00:00"), "--deadline"),
    # tco
    "tco config missing": Case(("tco", "--config", "nope.yml"), "nope.yml"),
    "tco unknown setting": Case(("tco", "--config", "tco-unknown.yml"), "gpu"),
    "tco negative price": Case(("tco", "--config", "tco-negative.yml"), "cloud.per_gpu_month"),
    "tco NaN": Case(("tco", "--config", "tco-nan.yml"), "self_hosted.pue"),
    "tco pue below 1": Case(("tco", "--config", "tco-pue.yml"), "pue"),
    "tco 25 hours a day": Case(("tco", "--config", "tco-hours.yml"), "hours_per_day"),
    "tco billing unknown": Case(("tco", "--config", "tco-billing.yml"), "cloud.billing"),
    "tco section not a mapping": Case(("tco", "--config", "tco-not-mapping.yml"), "cloud"),
    "tco YAML syntax": Case(("tco", "--config", "tco-syntax.yml"), "tco-syntax.yml"),
    "tco config a list": Case(("tco", "--config", "tco-list.yml"), "tco-list.yml"),
    # chargeback and cost agent
    "chargeback month malformed": Case(("chargeback", "--month", "2026-13", "--rate-card",
                                        "card-ok.yml"), "--month"),
    "chargeback rate card missing": Case((*CB, "nope.yml"), "nope.yml"),
    "chargeback price negative": Case((*CB, "card-negative.yml"), "power_per_kwh"),
    "chargeback pue missing": Case((*CB, "card-missing.yml"), "pue"),
    "chargeback pue below 1": Case((*CB, "card-pue.yml"), "pue"),
    "chargeback price text": Case((*CB, "card-text.yml"), "power_per_kwh"),
    "chargeback price infinite": Case((*CB, "card-inf.yml"), "colo_rent_per_month"),
    "chargeback rate card a list": Case((*CB, "card-list.yml"), "card-list.yml"),
    "chargeback Redis unreachable": Case((*CB, "card-ok.yml"), "redis://127.0.0.1:1"),
    "chargeback password file missing": Case((*CB, "card-ok.yml", "--redis-password-file",
                                              "nope.txt"), "nope.txt"),
    "cost agent config missing": Case(("cost-agent", "--config", "nope.yml"), "nope.yml"),
    "cost agent config without redis_url": Case(("cost-agent", "--config",
                                                  "agent-no-redis.yml"), "redis_url"),
    "cost agent config YAML syntax": Case(("cost-agent", "--config", "agent-syntax.yml"),
                                          "agent-syntax.yml"),
    # profile and powercap
    "profile interval zero": Case(("profile", "--interval", "0"), "--interval"),
    "profile duration negative": Case(("profile", "--duration=-60"), "--duration"),
    "profile busy util 150": Case(("profile", "--busy-util", "150"), "--busy-util"),
    "profile min busy hours 30": Case(("profile", "--min-busy-hours", "30"), "--min-busy-hours"),
    "profile replay missing": Case(("profile", "--replay", "nope.jsonl"), "nope.jsonl"),
    "profile replay malformed row": Case(("profile", "--replay", "profile-bad.jsonl"),
                                         "profile-bad.jsonl"),
    "profile replay wrong format": Case(("profile", "--replay", "profile-wrong.jsonl"),
                                        "profile-wrong.jsonl"),
    "profile Redis unreachable": Case(("profile", "--replay-redis", DEAD_REDIS),
                                      "redis://127.0.0.1:1"),
    "powercap gpus zero": Case(("powercap", "--budget-w", "4000", "--gpus", "0"), "--gpus"),
    "powercap budget negative": Case(("powercap", "--budget-w=-1", "--gpus", "8"),
                                     "--budget-w"),
    "powercap budget too small": Case(("powercap", "--budget-w", "100", "--gpus", "8"),
                                      "budget 100 W"),
    "powercap min above max": Case(("powercap", "--budget-w", "4000", "--gpus", "8",
                                    "--min-w", "800"), "--min-w"),
    # the CLI itself
    "no command": Case((), "COMMAND"),
    "unknown command": Case(("frobnicate",), "frobnicate"),
    "unknown option": Case(("tco", "--colour"), "--colour"),
}


def make_workdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in _files().items():
        (path / name).write_text(text)
    return path


def run(workdir: Path, argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "colostack", *argv], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workdir(tmp_path_factory.mktemp("cli-errors"))


def test_the_table_holds_at_least_sixty_invocations() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_naming_it_and_the_documented_exit_code(
        workdir: Path, name: str) -> None:
    case = CASES[name]
    proc = run(workdir, case.argv)
    lines = proc.stderr.splitlines()
    assert proc.returncode == case.code, proc.stderr
    assert len(lines) == 1 and lines[0].strip(), proc.stderr
    assert case.names in lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_debug_adds_the_traceback_to_the_same_line(workdir: Path) -> None:
    proc = run(workdir, ("tco", "--debug", "--config", "tco-pue.yml"))
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("colostack tco: error: ")


def test_valid_input_still_succeeds(workdir: Path) -> None:
    proc = run(workdir, ("validate", "--replay", str(HEALTHY), "--quiet"))
    assert proc.returncode == 0, proc.stderr
    assert run(workdir, ("window", "next", "--host", "h", "--window", WINDOW)).returncode == 0


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_markdown(out: Path) -> None:
    import tempfile  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        work = make_workdir(Path(tmp))
        rows = []
        for name, case in CASES.items():
            proc = run(work, case.argv)
            shown = [a.replace(str(HEALTHY), "HEALTHY.json") for a in case.argv]
            argv = " ".join(a if len(a) < 60 else a[:57] + "..." for a in shown)
            message = proc.stderr.strip().replace(str(HEALTHY), "HEALTHY.json")
            rows.append(f"| {_cell(name)} | `{_cell('colostack ' + argv)}` | {proc.returncode} "
                        f"| {_cell(message)} |")
    header = [
        "# colostack: malformed invocations and what they print",
        "",
        "Generated by `python tests/test_cli_errors.py` (run in `python/`) from the table that",
        "tests/test_cli_errors.py asserts on: each answer is one stderr line naming the input,",
        "exit 2 (unless the command documents another code), no traceback. HEALTHY.json is",
        "tests/data/validate/h100-sxm-healthy.synthetic.json; the other files are the",
        "malformed fixtures the test writes.",
        "",
        f"{len(CASES)} invocations.",
        "",
        "| case | command | exit | stderr |",
        "|---|---|---|---|",
    ]
    out.write_text("\n".join(header + rows) + "\n")


if __name__ == "__main__":
    write_markdown(HERE / "CLI_ERRORS.md")
