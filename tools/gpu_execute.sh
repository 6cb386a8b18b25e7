#!/usr/bin/env bash
# The chapters executed at the gpu profile ON the lent GPU machine, each chapter its own
# step of tools/gpu_job.py (own time limit, a failing chapter skipped, each executed
# chapter packed into $OUT/notebooks.tar.gz as soon as it is done), with carry [".carry"]
# (made by `make gpu-carry`):
#     bash tools/gpu_execute.sh                 # every chapter, 01, 04, 06 first
#     bash tools/gpu_execute.sh --steps chapter-01,chapter-06 --budget 500
# Back here:  tar -xzf <files_at>/notebooks.tar.gz   (from the repository root).
# The whole GPU job (benchmark, results, best recipe, then the chapters) is
# `python3 tools/gpu_job.py`; tools/GPU.md says how to size the device calls.
# Here on the CPU:  PYTHON=.venv/bin/python SKIP_WHEELS=1 PROFILE=smoke bash tools/gpu_execute.sh
set -uo pipefail
cd "$(dirname "$0")/.."
GPU_ENV_CHECK_ONLY=1 source tools/gpu_env.sh || exit 1
steps=(--steps chapters)
for a in "$@"; do [ "$a" = --steps ] && steps=(); done
exec $PYTHON tools/gpu_job.py --profile "$PROFILE" ${SKIP_WHEELS:+--no-wheels} "${steps[@]}" "$@"
