# Fresh-machine set-up: `make demo`, `make test` and `make docs` each create .venv when
# missing, install the package with the extras they need, then run. Re-running only
# re-installs when pyproject.toml changed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.sklearn-igd-installed
DOCS_STAMP := $(VENV)/.sklearn-igd-docs-installed
# The CPU build of torch; override on a GPU machine, e.g. `make test TORCH_SPEC=torch`.
TORCH_SPEC ?= torch==2.13.0

# Fashion-MNIST idx files for the tests: Debian's dataset-fashion-mnist package.
FMNIST_DIR := /usr/share/datasets/fashion-mnist
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: install demo test lint bench docs clean fashion-mnist

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py
	$(PY) examples/demo_textures.py

fashion-mnist:
	@[ -f $(FMNIST_DIR)/t10k-labels-idx1-ubyte.gz ] || [ -n "$$SKLEARN_IGD_DATA" ] || \
	  $(SUDO) apt-get install -y --no-install-recommends dataset-fashion-mnist || \
	  { $(SUDO) apt-get update && \
	    $(SUDO) apt-get install -y --no-install-recommends dataset-fashion-mnist; } || \
	  { echo "Fashion-MNIST is needed by the tests: install Debian's dataset-fashion-mnist" \
	         "or put the idx files in \$$SKLEARN_IGD_DATA"; exit 1; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# One pytest-xdist worker per core, each test file on one worker (its module fixtures
# are fitted once), one torch thread per worker (tests/conftest.py).
test: $(STAMP) fashion-mnist lint
	$(PY) -m pytest -q -n auto --dist loadfile

$(DOCS_STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

# The HTML site in docs/_build/html; executes the gallery (examples/plot_*.py), a few
# minutes on two cores (SKLEARN_IGD_EXAMPLES_TINY=1 shrinks each example to seconds).
# SPHINXOPTS adds sphinx-build options, e.g. SPHINXOPTS="-D plot_gallery=0" to skip the
# examples.
SPHINXOPTS ?=
docs: $(DOCS_STAMP)
	$(PY) -m sphinx -b html -W --keep-going $(SPHINXOPTS) docs docs/_build/html

bench: $(STAMP)
	$(PY) benchmarks/bench_throughput.py

clean:
	rm -rf $(VENV) demo_results .pytest_cache docs/_build docs/auto_examples docs/generated \
	  docs/gen_modules docs/sg_execution_times.rst
