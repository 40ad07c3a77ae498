# Portcullis developer tasks. CI runs `.ci/run`, which runs `make test`.
PYTHON ?= python3
VENV   ?= .venv
STAMP  := $(VENV)/.installed
OP_DIR := tests/support/op
OP_STAMP := $(OP_DIR)/node_modules/.installed

.PHONY: help venv system-deps node-deps lint test demo bench clean

help:
	@echo "make venv    create $(VENV) and install portcullis[test] (editable)"
	@echo "make test    system packages, lint, type check, full pytest suite"
	@echo "make node-deps  npm ci the test OpenID Provider in $(OP_DIR)"
	@echo "make lint    ruff check, ruff format --check, mypy"
	@echo "make demo    sample app + Portcullis on http://127.0.0.1:4180 (Ctrl-C stops)"
	@echo "make bench   wrk: direct Apache vs Portcullis -> Apache (bench/results/)"
	@echo "make clean   remove caches and demo state (keeps $(VENV))"

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q -e '.[test]'
	touch $@

# apache2, wrk, nodejs and npm from Debian; installed when root, otherwise a clear failure.
system-deps:
	scripts/system-deps.sh

# The e2e tests' OpenID Provider (oidc-provider, pinned in package-lock.json).
node-deps: $(OP_STAMP)

$(OP_STAMP): $(OP_DIR)/package.json $(OP_DIR)/package-lock.json | system-deps
	cd $(OP_DIR) && npm ci --no-audit --no-fund
	touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: system-deps node-deps lint
	$(VENV)/bin/pytest -q

demo: $(STAMP)
	$(VENV)/bin/python -m portcullis.demo

bench: system-deps node-deps $(STAMP)
	$(VENV)/bin/python bench/run.py
	$(VENV)/bin/python bench/routing.py
	$(VENV)/bin/python bench/policy.py
	$(VENV)/bin/python bench/authorizer.py

clean:
	rm -rf .demo .pytest_cache .mypy_cache .ruff_cache build dist
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
