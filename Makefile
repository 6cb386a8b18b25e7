# The README's two commands:
#   make book   -- build the site into _build/html (sets everything up first)
#   make test   -- everything CI runs: unit tests, pytest --nbval over every notebook, strict book build
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Tests never touch the network: the kernels' HTTP(S) traffic goes to a closed local port.
# One thread per process: two pytest workers already keep both cores busy.
TEST_ENV := RESNET_COURSE_PROFILE=smoke RESNET_COURSE_NO_DOWNLOAD=1 \
	HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 \
	http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 \
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
JB_STRICT := -W -n --keep-going
PYTEST_WORKERS ?= 2

.PHONY: book test venv data chromium unit nbval build-strict browser-test execute gpu-carry gpu-rehearsal clean

book: venv data
	$(VENV)/bin/jupyter-book build . --quiet
	@echo
	@echo "The book is built. Open file://$(CURDIR)/_build/html/index.html in a browser"
	@echo "or serve it:  $(PY) -m http.server -d _build/html 8000  ->  http://localhost:8000"

# chromium first: a machine without it stops at once, not after the long test run.
test: chromium venv data
	$(TEST_ENV) $(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadscope \
		--nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		--nbval-cell-timeout 300 tests book
	$(MAKE) build-strict
	$(MAKE) browser-test

build-strict: venv
	rm -rf _build/html
	$(VENV)/bin/jupyter-book build . $(JB_STRICT)

# Open every page of the built site in headless Chromium (Debian's chromium), at 1280x900
# and as a 390x844 phone: console errors, requests, math, images, widgets, links, phone
# navigation, sliders, code and equations that fit, tables, figures, search snippets
# (tools/browser_test.py lists them); screenshots in _build/screenshots.  Also checks each
# chapter's Colab button in the built pages.
browser-test: chromium venv
	BOOK_SITE_BUILT=1 $(VENV)/bin/pytest -q tests/test_colab.py
	$(PY) tools/browser_test.py _build/html --screenshots _build/screenshots

# The browser test drives a system Chromium (playwright cannot download browsers here):
# $$CHROMIUM, or chromium / chromium-browser / google-chrome on the PATH.  As root on
# Debian, install Debian's package when none is found; otherwise stop with the command.
chromium:
	@if [ -z "$$CHROMIUM" ] && ! command -v chromium >/dev/null \
		&& ! command -v chromium-browser >/dev/null && ! command -v google-chrome >/dev/null; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			echo "make: installing Debian's chromium for the browser test"; \
			(apt-get install -y -qq chromium || (apt-get update -qq && apt-get install -y -qq chromium)) >/dev/null; \
		else \
			echo "make: the browser test needs Chromium, and none is installed. Install it first:"; \
			echo "    sudo apt-get install chromium"; \
			echo "(or set CHROMIUM=/path/to/chromium-or-chrome), then run make test again."; \
			exit 1; \
		fi; \
	fi

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps d2l==1.0.3
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -c "from d2l import torch as d2l; import resnet_course; print('environment ready')"
	touch $(STAMP)

# Find Fashion-MNIST (Debian's package, $$FASHION_MNIST_DIR, or the download cache), verify it,
# and say where it is.  As root on Debian, install the package if it is missing.
data: venv
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && [ -z "$$FASHION_MNIST_DIR" ] \
		&& command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get install -y -qq dataset-fashion-mnist || \
		 (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)) >/dev/null; fi
	$(PY) -m resnet_course data

# Re-execute the chapters and store their outputs:  make execute PROFILE=cpu [NOTEBOOKS=book/x.ipynb]
execute: venv data
	$(PY) tools/execute_notebooks.py $(if $(PROFILE),--profile $(PROFILE)) $(NOTEBOOKS)

# The GPU job (issue 13): tools/GPU.md, a numbered runbook.  Wheels and data the GPU
# machine lacks, and the commit, in .carry/ (ignored by git), checked against a device
# call's 64 MiB; then the prepared device call (kind nvidia-h200, carry [".carry"]):
#     python3 tools/gpu_job.py --steps bench,best,reproduce-parallel --best-seeds 3 --budget 565
gpu-carry: venv data
	bash tools/make_gpu_carry.sh

# The GPU job on this CPU as the device runs it: Python 3.12, torch 2.11, the carried
# wheels with --target and PYTHONPATH, no network, the carried data, smoke size.
gpu-rehearsal: venv
	@ls .carry/wheels/*.whl >/dev/null 2>&1 || $(MAKE) gpu-carry
	bash tools/gpu_rehearsal.sh

clean:
	rm -rf _build
