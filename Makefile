# Jumba monorepo tasks. Needs only python3 >= 3.11 and access to PyPI.
#
#   make venv    create .venv with the five packages installed editable (+ test tools)
#   make demo    run examples/demo.py: the seed examples, then a small model trained
#   make test    run the test suite (what CI runs)
#   make lint    ruff check
#   make bench   set up benchmarks/.venv (with JAX etc.) and run every benchmark

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PACKAGES := core nn optim rl pytree_models
PYPROJECTS := $(foreach p,$(PACKAGES),packages/$(p)/pyproject.toml)
# One pip command: `jumba` is not on PyPI, so pip must see packages/core alongside the
# packages that depend on it to resolve `jumba>=0.1.0` locally.
# Extras: test tools, matplotlib for the demo's plot, mpi4py + mpich for the mpiexec tests,
# Gymnasium for comparing jumba_rl's environments with Gymnasium's own.
EDITABLES := -e 'packages/core[test,plot,mpi]' -e packages/nn -e packages/optim \
	-e 'packages/rl[gymnasium]' -e packages/pytree_models

.PHONY: venv demo test lint bench clean

venv: $(VENV)/.installed

# The stamp is rebuilt whenever a package's pyproject.toml changes (new dependency, new package).
$(VENV)/.installed: $(PYPROJECTS)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Jumba needs Python >= 3.11; run e.g. 'make PYTHON=python3.11 $(MAKECMDGOALS)'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install $(EDITABLES)
	touch $@

demo: venv
	$(PY) examples/demo.py

# A fresh kernel cache per run, so tests never depend on kernels left by an earlier run.
test: venv
	@cache_dir=$$(mktemp -d); \
	echo "JUMBA_CACHE_DIR=$$cache_dir"; \
	JUMBA_CACHE_DIR=$$cache_dir $(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	rm -rf "$$cache_dir"; exit $$status

$(VENV)/bin/ruff: | $(VENV)/.installed
	$(PY) -m pip install ruff

lint: $(VENV)/bin/ruff
	$(VENV)/bin/ruff check .

bench:
	bash benchmarks/setup_env.sh
	benchmarks/.venv/bin/python benchmarks/run_all.py

clean:
	rm -rf $(VENV)
