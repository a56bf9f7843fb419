#!/usr/bin/env bash
# Every GPU path of vidrop, checked and timed in ONE call on a lent GPU machine (see
# docs/gpu.md). Run from the repository root:  bash scripts/gpu_check.sh
# PyAV is not in the GPU image: carry its wheel in .whl/ (docs/gpu.md says how to fetch it).
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/vidrop-gpu}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 scripts/gpu_check.py --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu_check.log"
