#!/usr/bin/env bash
# `make gpu-carry`: fill .carry/ (git-ignored) with what the lent GPU machine lacks, and
# nothing more, then check that a device call may send it:
#   .carry/wheels/        wheels for the device's Python 3.12 (manylinux x86-64), versions
#                         as in our .venv: d2l (installed there with --no-deps) and the
#                         Jupyter stack that executing the chapters needs;
#   .carry/fashion-mnist/ the four Fashion-MNIST files, the .gz form only;
#   .carry/commit         the commit the tree is at (the device's copy has no .git).
# The device image already has torch 2.11, torchvision 0.26, numpy, matplotlib, pandas,
# scipy, tqdm, PyYAML, requests, Pygments, attrs, psutil, jinja2... (see
# tools/gpu_rehearsal.sh for the list); `python3 tools/gpu_preflight.py` there names
# anything still missing, and `make gpu-rehearsal` runs the job here as the device would.
# Then, in one device call:  python3 tools/gpu_job.py   with carry [".carry"]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
# The packages the device lacks: what the job imports (tools/gpu_preflight.py's MODULES)
# and their requirements, less what the device image holds.
NAMES=${GPU_CARRY_NAMES:-"d2l nbclient nbformat ipykernel ipython jupyter_client jupyter_core
traitlets pyzmq tornado comm debugpy matplotlib-inline nest-asyncio2 fastjsonschema jsonschema
jsonschema-specifications referencing rpds-py ipywidgets widgetsnbextension jupyterlab_widgets
jedi parso pexpect ptyprocess prompt_toolkit wcwidth stack_data executing asttokens pure_eval
ipython-pygments-lexers platformdirs tzdata"}

specs=()
for name in $NAMES; do
  version=$($PY -m pip show "$name" 2>/dev/null | awk '/^Version:/ {print $2}' || true)
  if [ -n "$version" ]; then specs+=("$name==$version"); else specs+=("$name"); fi
done
mkdir -p .carry
rm -rf .carry/wheels.new
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_26_x86_64 manylinux_2_24_x86_64 \
         manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64 linux_x86_64 any; do
  platforms+=(--platform "$p")
done
echo "gpu-carry: downloading ${#specs[@]} wheels for Python 3.12 ..."
$PY -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${platforms[@]}" -d .carry/wheels.new "${specs[@]}"
rm -rf .carry/wheels && mv .carry/wheels.new .carry/wheels

# The data: one form only (the .gz files); gzip unpacked ones if that is all there is.
rm -rf .carry/fashion-mnist && mkdir -p .carry/fashion-mnist
folder=$($PY -c "from resnet_course.data import find_fashion_mnist; print(find_fashion_mnist())")
for stem in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ -f "$folder/$stem.gz" ]; then cp "$folder/$stem.gz" .carry/fashion-mnist/
  else gzip -9 -c "$folder/$stem" > ".carry/fashion-mnist/$stem.gz"; fi
done
echo "gpu-carry: $(ls .carry/wheels | wc -l) wheels, $(du -sh .carry/wheels | cut -f1);" \
  "data from $folder, $(du -sh .carry/fashion-mnist | cut -f1)"
# The commit the device's copy of the tree is made from (it has no .git): its results
# name it in their provenance ("-dirty" when code, tools or book have changes).
commit=$($PY tools/tree_commit.py) || exit 1
echo "$commit" > .carry/commit
echo "gpu-carry: commit $commit (.carry/commit)"
# Refuses (exit 1) when the carry and the working tree together exceed a call's 64 MiB.
$PY tools/gpu_preflight.py --carry .carry
echo 'gpu-carry: ready. The prepared call (tools/GPU.md, step 3), kind nvidia-h200, carry [".carry"]:'
echo '    python3 tools/gpu_job.py --steps bench,best,reproduce-parallel --best-seeds 3 --budget 565'
