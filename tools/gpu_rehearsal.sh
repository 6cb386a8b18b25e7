#!/usr/bin/env bash
# `make gpu-rehearsal`: the GPU job (tools/gpu_job.py) run on this CPU as the lent GPU
# machine would run it, at smoke size:
#   * Python 3.12 with torch 2.11 and torchvision 0.26 and only the packages of the
#     device's image that the job touches (DEVICE_PACKAGES; anything they pull in that
#     the image lacks is removed again), in $GPU_REHEARSAL_DIR/venv (made once);
#   * a copy of the working tree as a device call sends it (tracked files and untracked
#     ones git does not ignore) plus .carry, so nothing here is written to;
#   * the carried wheels installed with pip --no-index --no-deps --target, PYTHONPATH;
#   * no network (a network namespace of its own, only loopback: unshare -n);
#   * the data from .carry/fashion-mnist; $OUT checked against the call's limits.
# Niced, one thread.  GPU_REHEARSAL_BUDGET (seconds, default 1500) replaces the device's
# 560 s budget, since smoke steps on 2 shared CPU cores are slower than gpu ones there.
set -uo pipefail
cd "$(dirname "$0")/.."
R=${GPU_REHEARSAL_DIR:-/tmp/resnet-gpu-rehearsal}
BUDGET=${GPU_REHEARSAL_BUDGET:-1500}
PROFILE=${GPU_REHEARSAL_PROFILE:-smoke}
DEVICE_TORCH="torch==2.11.0 torchvision==0.26.0"
# On the device's image (KINDS.md, 2026-11-17) and used by the job or its dependencies.
DEVICE_PACKAGES="numpy pillow matplotlib pandas scipy tqdm pyyaml requests pygments attrs psutil
jinja2 packaging python-dateutil six typing-extensions"
# Installed with the above but not on the device's image: removed again.
NOT_ON_DEVICE="tzdata"

if ! ls .carry/wheels/*.whl >/dev/null 2>&1 || [ ! -d .carry/fashion-mnist ]; then
  echo "gpu-rehearsal: no .carry; run \`make gpu-carry\` first" >&2
  exit 1
fi

find_python312() {
  local c
  for c in "${PYTHON312:-}" python3.12 /root/.pyenv/versions/3.12*/bin/python3.12 \
           "$HOME"/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12; do
    if [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 \
       && "$c" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  return 1
}

mkdir -p "$R"
if [ ! -f "$R/venv/.ready" ]; then
  py312=$(find_python312) || {
    echo "gpu-rehearsal: no Python 3.12 found (PYTHON312=..., pyenv, python3.12 on PATH)" >&2
    exit 1
  }
  echo "gpu-rehearsal: making the device-like environment in $R/venv with $py312"
  rm -rf "$R/venv"
  "$py312" -m venv "$R/venv" || exit 1
  nice -n 19 "$R/venv/bin/python" -m pip install -q $DEVICE_TORCH $DEVICE_PACKAGES || exit 1
  "$R/venv/bin/python" -m pip uninstall -q -y $NOT_ON_DEVICE >/dev/null 2>&1 || true
  touch "$R/venv/.ready"
fi
PY="$R/venv/bin/python"
"$PY" -c "import sys, torch, torchvision; print('gpu-rehearsal: python', sys.version.split()[0], '| torch', torch.__version__, '| torchvision', torchvision.__version__)"

# The tree as a device call sends it.
rm -rf "$R/tree" "$R/out" "$R/work" "$R/site"
mkdir -p "$R/tree" "$R/out"
git ls-files -z --cached --others --exclude-standard \
  | (while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done) \
  | tar --null -T - -cf - | tar -xf - -C "$R/tree"
cp -r .carry "$R/tree/.carry"
# The commit of the tree rehearsed, by make gpu-carry's rule (tools/tree_commit.py).
python3 tools/tree_commit.py > "$R/tree/.carry/commit" || exit 1

if unshare -n true 2>/dev/null; then
  NONET=(unshare -n sh -c 'ip link set lo up 2>/dev/null; exec "$@"' sh)
  echo "gpu-rehearsal: no network (own network namespace, loopback only)"
else
  NONET=()
  echo "gpu-rehearsal: unshare -n is not allowed here: the network is NOT cut (proxies only)"
fi
start=$(date +%s)
(
  cd "$R/tree" && env -u PYTHONPATH -u FASHION_MNIST_DIR -u VIRTUAL_ENV \
    OUT="$R/out" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 RESNET_COURSE_CACHE="$R/cache" \
    "${NONET[@]}" nice -n 19 "$PY" tools/gpu_job.py --profile "$PROFILE" --budget "$BUDGET" \
    --site "$R/site" --work "$R/work" "$@"
)
rc=$?
echo "gpu-rehearsal: the job exited $rc after $(( $(date +%s) - start )) s"

# What would come back: at most 8 files, 16 MiB each, no deeper than 2 folders.
n=$(find "$R/out" -type f | wc -l)
big=$(find "$R/out" -type f -size +16M | wc -l)
deep=$(find "$R/out" -mindepth 4 -type f | wc -l)
ls -l "$R/out"
echo "gpu-rehearsal: \$OUT holds $n files ($big over 16 MiB, $deep too deep); limits: 8, 0, 0"
tar -tzf "$R/out/results.tar.gz" 2>/dev/null | sed 's/^/  results.tar.gz: /'
tar -tzf "$R/out/notebooks.tar.gz" 2>/dev/null | sed 's/^/  notebooks.tar.gz: /'
if [ "$n" -gt 8 ] || [ "$big" -gt 0 ] || [ "$deep" -gt 0 ]; then
  echo "gpu-rehearsal: \$OUT would not come back whole" >&2; exit 1
fi
exit $rc
