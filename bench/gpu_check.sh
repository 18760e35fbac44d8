#!/usr/bin/env bash
# Frames/s of every offline backbone (and the tiny V-JEPA 2) on CUDA, as JSON lines, in at most 5 minutes.
# Without a CUDA device it prints one JSON line saying so and exits 0. Extra arguments go to gpu_check.py.
#
#   bash bench/gpu_check.sh [--videos 24] [--backbones efficientnet_lite0 ...]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
status=0
timeout --signal=INT --kill-after=10 300 "$PY" bench/gpu_check.py "$@" || status=$?
if [ "$status" -eq 124 ]; then
  echo '{"bench": "gpu_check", "error": "stopped at the 5-minute limit; lower --videos"}'
fi
exit "$status"
