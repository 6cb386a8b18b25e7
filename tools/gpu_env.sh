# Sourced by tools/gpu_execute.sh and tools/gpu_bench.sh: the environment of a run ON the lent
# GPU machine.  Installs the carried wheels (.carry/wheels, made by `make gpu-carry`) into
# /tmp/site unless SKIP_WHEELS is set, puts the package on the path, points the data module at
# the carried Fashion-MNIST, and forbids downloads.  PYTHON, OUT and PROFILE get defaults.
PYTHON=${PYTHON:-python3}
OUT=${OUT:-$(mktemp -d)}
PROFILE=${PROFILE:-gpu}
if [ -z "${SKIP_WHEELS:-}" ]; then
  $PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .carry/wheels/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/code${PYTHONPATH:+:$PYTHONPATH}"
if [ -d .carry/fashion-mnist ]; then export FASHION_MNIST_DIR=${FASHION_MNIST_DIR:-$PWD/.carry/fashion-mnist}; fi
export RESNET_COURSE_NO_DOWNLOAD=1 PYTHONUNBUFFERED=1
$PYTHON -m resnet_course data
