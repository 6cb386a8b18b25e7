# The environment of a run ON the lent GPU machine, for commands typed by hand there
# (tools/gpu_job.py sets the same up for its own steps):
#     source tools/gpu_env.sh && python3 -m resnet_course bench --recipes fast --fast-epochs 6
# Checks that .carry (made by `make gpu-carry`, sent with carry [".carry"]) is there,
# installs its wheels into /tmp/site (no network) unless SKIP_WHEELS is set, puts the
# package and the wheels on PYTHONPATH, points the data module at the carried
# Fashion-MNIST and forbids downloads.  PYTHON, OUT and PROFILE get defaults.
# GPU_ENV_CHECK_ONLY=1: only the check (tools/gpu_execute.sh, tools/gpu_bench.sh).
PYTHON=${PYTHON:-python3}
OUT=${OUT:-/tmp/gpu-out}
PROFILE=${PROFILE:-gpu}
GPU_CARRY=${GPU_JOB_CARRY:-.carry}
if [ -z "${SKIP_WHEELS:-}" ] && ! ls "$GPU_CARRY"/wheels/*.whl >/dev/null 2>&1; then
  echo "error: no wheels in $GPU_CARRY/wheels: run \`make gpu-carry\` on the CPU machine," \
    "then call the device with carry [\".carry\"] (or set SKIP_WHEELS=1 where every" \
    "package is installed)" >&2
  return 1 2>/dev/null || exit 1
fi
if [ -z "${GPU_ENV_CHECK_ONLY:-}" ]; then
  mkdir -p "$OUT"
  if [ -z "${SKIP_WHEELS:-}" ]; then
    $PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site "$GPU_CARRY"/wheels/*.whl || return 1 2>/dev/null || exit 1
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  fi
  export PYTHONPATH="$PWD/code${PYTHONPATH:+:$PYTHONPATH}"
  if [ -d "$GPU_CARRY/fashion-mnist" ]; then
    export FASHION_MNIST_DIR=${FASHION_MNIST_DIR:-$(cd "$GPU_CARRY/fashion-mnist" && pwd)}
  fi
  export RESNET_COURSE_NO_DOWNLOAD=1 PYTHONUNBUFFERED=1
  $PYTHON tools/gpu_preflight.py
fi
