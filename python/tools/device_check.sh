#!/usr/bin/env bash
# Device check for `colostack validate` on a real H100 host (needs the NVIDIA driver; nvidia-ml-py
# is expected to be installed already). Run from the repository root:
#   bash python/tools/device_check.sh
# It installs the package from this working tree into a private --target dir, records every raw
# NVML reading and bandwidth sample, writes the JSON report and the Prometheus textfile, repeats
# the bandwidth check, and prints timings. Everything lands under $OUT (or ./device-out):
# commit recording.json and report.json into tests/data/validate/ as REAL hardware data.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$REPO/device-out}
REPS=${REPS:-3}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
exec > >(tee "$OUT/device_check.log") 2>&1

echo "== host"
date -u +%FT%TZ
uname -r
nvidia-smi --query-gpu=index,name,pci.device_id,driver_version,power.limit,pcie.link.gen.max \
  --format=csv || echo "nvidia-smi failed (continuing: the validator must say why)"
"$PY" -c 'import pynvml, sys; print("nvidia-ml-py", pynvml.__file__)' || {
  echo "nvidia-ml-py is not importable by $PY"; exit 2; }

echo "== install colostack from the working tree"
# The device may have no network: dependencies come from an optional carried wheel directory
# (make one here with: pip download -d device-wheels --only-binary=:all: -c constraints.txt
#  rich python-dateutil prometheus-client nvidia-ml-py; all pure Python).
TARGET="$OUT/site"
WHEELS=${WHEELS:-$REPO/device-wheels}
rm -rf "$TARGET"
if "$PY" -m pip install --quiet --no-deps --no-index --no-build-isolation --target "$TARGET" \
    "$REPO/python" >"$OUT/pip.log" 2>&1; then
  export PYTHONPATH="$TARGET${PYTHONPATH:+:$PYTHONPATH}"
else
  echo "pip could not build the package offline; using the source tree (pure Python) instead"
  export PYTHONPATH="$REPO/python${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! "$PY" -c 'import rich, dateutil, prometheus_client, pynvml' 2>/dev/null; then
  DEPS="$OUT/deps"
  if [ -d "$WHEELS" ]; then
    "$PY" -m pip install --quiet --no-index --find-links "$WHEELS" --target "$DEPS" \
      rich python-dateutil prometheus-client nvidia-ml-py
  else
    "$PY" -m pip install --quiet --target "$DEPS" -c "$REPO/constraints.txt" \
      rich python-dateutil prometheus-client nvidia-ml-py
  fi
  export PYTHONPATH="$PYTHONPATH:$DEPS"
fi
"$PY" -c 'import colostack.validate.cli, pynvml; print("colostack", colostack.validate.cli.__file__)'

run() {  # run NAME ARGS...: time one validation, keep its exit code
  local name=$1; shift
  local t0 rc=0
  t0=$EPOCHREALTIME
  timeout 240 "$PY" -m colostack.validate "$@" || rc=$?
  "$PY" -c "import sys; print(f'{sys.argv[1]}: exit {sys.argv[2]}, {float(sys.argv[4]) - float(sys.argv[3]):.2f} s')" \
    "$name" "$rc" "$t0" "$EPOCHREALTIME" | tee -a "$OUT/timings.txt"
}

echo "== full validation, recorded"
: > "$OUT/timings.txt"
run full --record "$OUT/recording.json" --json "$OUT/report.json" --prom "$OUT/gpu.prom"

echo "== bandwidth check, $REPS more runs"
for i in $(seq 1 "$REPS"); do
  run "bandwidth-$i" --json "$OUT/report-$i.json" --quiet
  [ -f "$OUT/report-$i.json" ] || continue
  "$PY" - "$OUT/report-$i.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    if r["check"] == "hbm_bandwidth":
        print(f"  GPU {r['gpu']}: {r['observed']} GB/s (floor {r['limit']}): {r['reason']}")
PY
done

if [ -f "$OUT/recording.json" ]; then
  echo "== replay of the recording"
  run replay --replay "$OUT/recording.json" --quiet
fi
echo "== timings"
cat "$OUT/timings.txt"
echo "outputs in $OUT"
