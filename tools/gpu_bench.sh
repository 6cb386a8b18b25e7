#!/usr/bin/env bash
# The benchmark figures of BENCHMARKS.md ON the lent GPU machine, as steps of
# tools/gpu_job.py (own time limits, results packed into $OUT as each finishes), with
# carry [".carry"] (made by `make gpu-carry`):
#   bash tools/gpu_bench.sh          # d2l's recipe and the fast recipe, side by side
#   bash tools/gpu_bench.sh best     # the best recipe: 3 seeds, 1 if the budget is short
#   bash tools/gpu_bench.sh all      # both
# Extra arguments go to gpu_job.py (--budget SECONDS, --best-seeds 1, --add NAME=CMD...).
# Rows: gpu-run/bench_*.json and the logs in $OUT/results.tar.gz.  The whole GPU job is
# `python3 tools/gpu_job.py` (tools/GPU.md).
# Here on the CPU:  PYTHON=.venv/bin/python SKIP_WHEELS=1 PROFILE=smoke bash tools/gpu_bench.sh
set -uo pipefail
cd "$(dirname "$0")/.."
stage="${1:-fast}"
case "$stage" in
  fast) steps=bench ;;
  best) steps=best ;;
  all) steps=bench,best ;;
  *) echo "usage: bash tools/gpu_bench.sh [fast|best|all] [gpu_job.py options]" >&2; exit 2 ;;
esac
[ $# -gt 0 ] && shift
GPU_ENV_CHECK_ONLY=1 source tools/gpu_env.sh || exit 1
exec $PYTHON tools/gpu_job.py --profile "$PROFILE" ${SKIP_WHEELS:+--no-wheels} --steps "$steps" "$@"
