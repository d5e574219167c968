# One entry point for newcomers and CI. Python 3.10 is the Function Compute runtime: use it when the
# machine has it (pyenv ships one here), else the default python3.
PYTHON ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /root/.pyenv/versions/3.10*/bin/python3.10 python3; do \
            "$$p" -c 'import sys' >/dev/null 2>&1 && { command -v "$$p" 2>/dev/null || echo "$$p"; } && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps demo plan test lint check bench build wheelhouse clean

setup: $(STAMP)

# The pinned build tools first (requirements/build.lock), then everything else built against them
# without build isolation: no unpinned setuptools is fetched at build time, and the venv's own pip
# (23.x with Python 3.10, no `wheel` package) never has to build a wheel.
# Every file from the index is checked against the locks' sha256 hashes (--require-hashes;
# scripts/hash_locks.py writes them). The project's own editable install has no file to hash (pip
# refuses --require-hashes with -e) and fetches nothing: --no-deps, built with the pinned setuptools.
$(STAMP): requirements/build.lock requirements/dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/build.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes --no-build-isolation -r requirements/dev.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e .
	@touch $(STAMP)

# The runtime dependencies for Function Compute (manylinux2014_x86_64, CPython 3.10) in
# .build-cache/: the last step that needs the package index, so `make test` then runs offline.
# The script does nothing when the cache already matches the locks.
wheelhouse: $(STAMP)
	$(BIN)/python scripts/build_functions.py --deps-only

# The code folders `s deploy` uploads (s.yaml's pre-deploy action runs this).
build: wheelhouse
	$(BIN)/python scripts/build_functions.py

# The main job on the embedded default: the sample ACR Enterprise Edition push, applied to the
# embedded fake ECI seeded with the sample container groups.
demo: $(STAMP)
	$(BIN)/eci-redeploy invoke events/acr-ee-push.json --rules examples/rules.yaml --state examples/state.json

plan: $(STAMP)
	$(BIN)/eci-redeploy plan events/acr-ee-push.json --rules examples/rules.yaml --state examples/state.json

# The end-to-end tests need Debian's docker-registry, skopeo and htpasswd: installed when missing
# (as root, as CI runs); otherwise the script says what to install.
system-deps:
	@bash .ci/install-system-deps

# PYTEST_ARGS: extra pytest arguments (.ci/run adds a JUnit report).
test: $(STAMP) wheelhouse system-deps
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check shared tests functions scripts .ci/check_junit.py $(wildcard bench)
	$(BIN)/ruff format --check shared tests functions scripts .ci/check_junit.py $(wildcard bench)
	$(BIN)/mypy

check: lint test

bench: $(STAMP)
	cd bench && ../$(BIN)/python run.py

clean:
	rm -rf $(VENV) build .build-cache .pytest_cache .mypy_cache .ruff_cache
