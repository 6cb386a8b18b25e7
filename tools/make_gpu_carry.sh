#!/usr/bin/env bash
# Fill .carry/ (git-ignored) with what the lent GPU machine lacks: wheels for its Python 3.12
# (d2l, the Jupyter kernel stack, nbclient, ipywidgets; versions as in our .venv) and the
# Fashion-MNIST files.  Then, in one device call (carry: [".carry"]):
#     bash tools/gpu_execute.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
mkdir -p .carry/wheels .carry/fashion-mnist
# The device image already has torch, torchvision, numpy, matplotlib, pandas, scipy, tqdm, pyyaml...
NAMES="d2l nbclient nbformat ipykernel ipython jupyter_client jupyter_core traitlets pyzmq tornado comm
debugpy matplotlib-inline nest-asyncio2 fastjsonschema jsonschema jsonschema-specifications referencing
rpds-py ipywidgets widgetsnbextension jupyterlab_widgets jedi parso pexpect ptyprocess prompt_toolkit
wcwidth stack_data executing asttokens pure_eval ipython-pygments-lexers platformdirs"
specs=()
for name in $NAMES; do
  version=$($PY -m pip show "$name" 2>/dev/null | awk '/^Version:/ {print $2}' || true)
  if [ -n "$version" ]; then specs+=("$name==$version"); else specs+=("$name"); fi
done
$PY -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
  -d .carry/wheels "${specs[@]}"
folder=$($PY -c "from resnet_course.data import find_fashion_mnist; print(find_fashion_mnist())")
cp "$folder"/*-ubyte* .carry/fashion-mnist/
du -sh .carry/wheels .carry/fashion-mnist
ls .carry/wheels | wc -l
