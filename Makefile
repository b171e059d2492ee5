# Bodhi services. `make run` starts the whole system; `make test` checks everything.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PY := $(UV) run --frozen --no-sync
MEMBERS := common gateway auth-svc secret-svc model-svc aiproxy-svc devstack cli
PROTOS := $(shell find proto -name '*.proto')
SYNCED := .venv/.bodhi-synced
NPM_DONE := devstack/oidc/node_modules/.bodhi-installed
PROTO_DONE := common/src/bodhi/.generated

.PHONY: help setup proto run test lint fmt typecheck unit e2e deploy-check k8s-validate bench-secret bench-identity bench-proxy bench-downloads bench bench-quick bench-soak soak clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(UV):
	@echo "uv not found: installing it with pip into .tools/"
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

setup: $(UV) $(SYNCED) $(NPM_DONE) $(PROTO_DONE) ## Install Python and npm dependencies, generate stubs
	@sh tests-e2e/install-browser.sh

# --compile-bytecode: processes here run with PYTHONDONTWRITEBYTECODE=1 (as CI may), so without
# .pyc files every start compiled every imported module again (slower, and ~3-8 MB more RSS).
$(SYNCED): uv.lock pyproject.toml $(wildcard */pyproject.toml) Makefile | $(UV)
	$(UV) sync --frozen --all-packages --compile-bytecode
	touch $@

$(NPM_DONE): devstack/oidc/package-lock.json
	npm ci --prefix devstack/oidc --no-audit --no-fund --loglevel=error
	touch $@

proto: $(PROTO_DONE) ## Generate typed Python from proto/ into common/src/bodhi

$(PROTO_DONE): $(PROTOS) $(SYNCED)
	rm -rf common/src/bodhi
	mkdir -p common/src/bodhi
	$(PY) python -m grpc_tools.protoc -I proto \
	  --python_out=common/src --grpc_python_out=common/src \
	  --mypy_out=common/src --mypy_grpc_out=common/src $(PROTOS)
	find common/src/bodhi -type d -exec touch {}/__init__.py \;
	touch $@

run: setup ## Start the whole system on http://127.0.0.1:1135 (embedded defaults)
	$(PY) python -m bodhi_devstack run

lint: setup ## ruff format check and lint
	$(PY) ruff format --check .
	$(PY) ruff check .

fmt: setup ## Format and auto-fix
	$(PY) ruff format .
	$(PY) ruff check --fix .

typecheck: setup ## mypy --strict over our code
	$(PY) mypy
	$(PY) mypy bench

unit: setup ## Every member's own tests
	@for m in $(MEMBERS); do \
	  if [ -d $$m/tests ]; then echo "== $$m"; $(PY) pytest -q $$m/tests || exit 1; fi; \
	done

e2e: setup ## Whole-stack tests over HTTP
	$(PY) pytest -q tests-e2e/tests

deploy-check: setup ## Validate docker-compose.yml and the Dockerfile offline
	$(PY) pytest -q deploy/tests

k8s-validate: setup ## Render deploy/k8s (base, dev, prod) and validate it offline against the Kubernetes schemas
	$(PY) pytest -q deploy/tests/test_k8s.py deploy/tests/test_k8s_policies.py

bench-secret: setup ## secret-svc benchmark (writes bench/results/secret_vault.md)
	$(PY) python bench/secret_vault.py

bench-identity: setup ## bearer auth + login callback benchmark (writes bench/results/identity.md)
	$(PY) python bench/identity.py

bench-proxy: setup ## AI proxy benchmark: gateway vs LiteLLM vs direct (writes bench/results/proxy.md)
	$(PY) python bench/proxy.py

bench-downloads: setup ## model-svc download benchmark (writes bench/results/downloads.md)
	$(PY) python bench/downloads.py

# `make bench`: every benchmark in its own process, then bench/results/latest.md; ~12 min here.
# Downloads use a 512 MiB file and 2 rounds, the soak 120 s (bench-soak: the full 10 minutes).
SOAK_SECONDS ?= 120
bench: setup ## Every benchmark (P1-P10, ~12 min), then bench/results/latest.md
	@start=$$(date +%s); \
	$(PY) python bench/secret_vault.py; \
	$(PY) python bench/identity.py; \
	$(PY) python bench/proxy.py; \
	$(PY) python bench/downloads.py --size-mib 512 --rounds 2; \
	$(PY) python bench/grpc_hop.py; \
	$(PY) python bench/memory.py --soak-seconds $(SOAK_SECONDS); \
	$(PY) python bench/startup.py --runs 3; \
	$(PY) python bench/latest.py --total-seconds $$(( $$(date +%s) - start ))

bench-soak: setup ## P9's full 10-minute soak at 500 req/s (bench/results/memory.md), then latest.md
	$(PY) python bench/memory.py --soak-seconds 600
	$(PY) python bench/latest.py

soak: setup ## Load + faults soak, 10 min (issue #9; writes bench/results/soak.md); not in make test
	$(PY) python bench/soak.py --seconds $(or $(SOAK),600)

bench-quick: setup ## A ~2-minute subset of `make bench` (writes bench/results/latest-quick.md)
	@start=$$(date +%s); \
	$(PY) python bench/proxy.py --quick --no-litellm; \
	$(PY) python bench/grpc_hop.py --rounds 2 --per-round 300 --warm-up 200 --seconds 2 --name grpc_hop-quick; \
	$(PY) python bench/memory.py --idle-only --name memory-quick; \
	$(PY) python bench/startup.py --runs 1 --name startup-quick; \
	$(PY) python bench/latest.py --quick --total-seconds $$(( $$(date +%s) - start ))

test: lint typecheck unit deploy-check k8s-validate e2e ## Everything CI runs
	@echo "all checks passed"

clean: ## Remove installed and generated files (keeps .data/, make run's databases)
	rm -rf common/src/bodhi .tools .venv devstack/oidc/node_modules
