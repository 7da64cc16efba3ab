"""Validation benchmark: time of a full `colostack validate`, replayed and (on a GPU host) real.

Usage (repository root): .venv/bin/python -m bench.validate [--reps N] [--real]

Replay: every check on the SYNTHETIC 8x H100 SXM5 recording, in process and as a fresh CLI
process (imports included). Target: well under 1 s.
Real (--real, needs an NVIDIA driver): one full validation on the host's GPUs, then the
bandwidth check's median against the NVML-derived peak. Targets: <= 10 s for 1 GPU, <= 30 s
for 8, bandwidth >= 85% of peak (DCGM's own H100 figure is 76%).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from colostack.nvml.session import NvmlError, Session
from colostack.validate.checks.bandwidth import peak_gbps
from colostack.validate.nvml_source import NvmlReadings
from colostack.validate.readings import ReadingError, ReplayReadings
from colostack.validate.runner import validate
from colostack.validate.settings import Settings

REPO = Path(__file__).resolve().parents[2]
RECORDING = REPO / "tests" / "data" / "validate" / "h100-sxm-healthy.synthetic.json"


def _median_s(fn: object, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def replay(reps: int) -> None:
    def in_process() -> None:
        validate(ReplayReadings.load(RECORDING), Settings(), "bench", True)

    def cli() -> None:
        subprocess.run([sys.executable, "-m", "colostack.validate", "--replay", str(RECORDING),
                        "--quiet"], check=True, capture_output=True)

    inner = _median_s(in_process, reps)
    outer = _median_s(cli, max(3, reps // 10))
    print(f"{'replay, 8 GPUs':32} {'median s':>10} {'target s':>9} {'ratio':>7}")
    print(f"{'in process (load + all checks)':32} {inner:10.4f} {1.0:9.1f} {inner / 1.0:7.4f}")
    print(f"{'CLI process (imports included)':32} {outer:10.4f} {1.0:9.1f} {outer / 1.0:7.4f}")


def real() -> int:
    try:
        with Session() as nvml:
            source = NvmlReadings(nvml)
            t0 = time.perf_counter()
            report = validate(source, Settings(), "nvml", False)
            wall = time.perf_counter() - t0
            peaks = {}
            for g in report.gpus:
                try:
                    peaks[g["index"]] = peak_gbps(int(source.gpu(g["index"], "memory.bus_width")),
                                                  int(source.gpu(g["index"], "clock.mem_max_mhz")))
                except ReadingError as exc:
                    print(f"  GPU {g['index']}: no peak: {exc}")
    except NvmlError as exc:
        print(f"real: skipped, {exc}")
        return 0
    gpus = len(report.gpus)
    target = 10.0 if gpus <= 1 else 30.0
    print(f"real, {gpus} GPUs: {wall:.2f} s, target {target:.0f} s, ratio {wall / target:.2f}, "
          f"verdict {report.verdict}")
    for r in report.results:
        if r.check == "hbm_bandwidth" and isinstance(r.observed, float) and r.gpu in peaks:
            peak = peaks[r.gpu]
            print(f"  GPU {r.gpu}: {r.observed:.0f} GB/s = {r.observed / peak:.1%} of {peak:.0f} "
                  "GB/s peak "
                  f"(target 85%, DCGM 76%): {r.reason}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--real", action="store_true", help="also validate this host's GPUs")
    args = ap.parse_args()
    replay(args.reps)
    return real() if args.real else 0


if __name__ == "__main__":
    sys.exit(main())
