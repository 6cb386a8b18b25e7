#!/usr/bin/env bash
# Runs ON the lent GPU machine (its own python3 with torch; nothing can be installed from the
# network there), in one call:  carry [".carry"]  (made by `make gpu-carry`).
#   1. installs the carried wheels into /tmp/site (no network),
#   2. executes every chapter in the gpu profile, writing the outputs into the notebooks,
#   3. packs the executed notebooks into $OUT/notebooks.tar.gz (and the log into $OUT/).
# Back here:  tar -xzf <files_at>/notebooks.tar.gz   (from the repository root).
# Test it here on the CPU with:  PYTHON=.venv/bin/python SKIP_WHEELS=1 PROFILE=smoke bash tools/gpu_execute.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
$PYTHON -c "import torch, resnet_course; print('torch', torch.__version__, '| cuda', torch.cuda.is_available(), '|', torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
set -o pipefail
$PYTHON tools/execute_notebooks.py --profile "$PROFILE" ${NOTEBOOKS:-} 2>&1 | tee "$OUT/execute.log"
tar -czf "$OUT/notebooks.tar.gz" book/*.ipynb
echo "executed notebooks packed into $OUT/notebooks.tar.gz"
