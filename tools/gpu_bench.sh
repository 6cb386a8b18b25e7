#!/usr/bin/env bash
# The GPU figures of BENCHMARKS.md, ON the lent GPU machine, in one device call with
# carry [".carry"] (made by `make gpu-carry`, as for tools/gpu_execute.sh):
#
#   bash tools/gpu_bench.sh          # d2l's recipe and the fast recipe, side by side
#   bash tools/gpu_bench.sh best     # the best recipe, 3 seeds
#   bash tools/gpu_bench.sh all      # both (may not fit one 10-minute call)
#
# Estimates for an H100/H200 (not yet measured): fast ~3 min (d2l's 10 epochs ~60 s, data loading,
# warm-ups), best ~5-7 min (3 x 50 epochs).  Writes to $OUT: gpu.txt (the machine), the printed
# tables (*.txt) and the rows as JSON.  Copy the tables into BENCHMARKS.md with the machine line.
# Test it here on the CPU with:  PYTHON=.venv/bin/python SKIP_WHEELS=1 PROFILE=smoke bash tools/gpu_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
stage="${1:-fast}"
case "$stage" in fast|best|all) ;; *) echo "usage: bash tools/gpu_bench.sh [fast|best|all]" >&2; exit 2 ;; esac
source tools/gpu_env.sh
export MPLBACKEND=agg
{
  $PYTHON -c "import sys, torch; print('python', sys.version.split()[0], '| torch', torch.__version__, '| cuda', torch.version.cuda, '|', torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
  if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; fi
} | tee "$OUT/gpu.txt"
if [ "$stage" = fast ] || [ "$stage" = all ]; then
  $PYTHON -m resnet_course bench --profile "$PROFILE" --recipes d2l,fast --no-progress \
    --json "$OUT/bench_d2l_fast.json" 2>&1 | tee "$OUT/bench_d2l_fast.txt"
fi
if [ "$stage" = best ] || [ "$stage" = all ]; then
  $PYTHON -m resnet_course bench --profile "$PROFILE" --recipes best --seeds 3 --no-progress \
    --json "$OUT/bench_best.json" 2>&1 | tee "$OUT/bench_best.txt"
fi
echo "results in $OUT/"
