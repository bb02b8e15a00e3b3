# stackery-operator: every entry point a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv test unit e2e chart-test alerts-test crds crds-check lint demo bench image clean picture resilience

help:
	@echo "make demo    - run the operator end to end on a local kube-apiserver + moto (DEMO_EXIT=1 to end by itself)"
	@echo "make test    - create the venv, build/cache what is needed, run every test tier"
	@echo "make bench   - N ObjectStores + ConfigStores + Tables at once (BENCH_N='100 500 1000', BENCH_LATENCY_MS='0 30', BENCH_THROTTLE=0.2, BENCH_REPLICAS=2 sharded replicas, BENCH_TIMERS=1 adds kopf-timer rows)"
	@echo "make crds    - regenerate crds/ and the chart's crds/ from the pydantic models"
	@echo "make lint    - ruff (check + format) + mypy + import-linter layers + CRD, picture and dashboard drift checks"
	@echo "make picture - redraw docs/stack.svg (the examples' stack, by kubectl-stackery) and the Grafana dashboard"

$(STAMP): pyproject.toml clients/tables/pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q -e clients/tables
	@touch $(STAMP)

venv: $(STAMP)

crds: $(STAMP)
	$(BIN)/python -m controller.crdgen

crds-check: $(STAMP)
	$(BIN)/python -m controller.crdgen --check

picture: $(STAMP)
	$(BIN)/kubectl-stackery graph -f examples -o svg > docs/stack.svg
	$(BIN)/python hack/dashboard.py

lint: $(STAMP) crds-check
	$(BIN)/kubectl-stackery graph -f examples -o svg | diff -q - docs/stack.svg >/dev/null \
		|| { echo "docs/stack.svg is stale: run make picture" >&2; exit 1; }
	$(BIN)/python hack/dashboard.py --check
	$(BIN)/ruff check controller tests hack clients examples/functions
	$(BIN)/ruff format --check controller tests hack clients examples/functions
	$(BIN)/mypy
	$(BIN)/mypy clients/tables/src/stackery_tables examples/functions
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# The e2e tier builds (once, cached in ~/.cache/stackery-operator) kube-apiserver, etcd, kubectl and
# helm from the Go module proxy, or uses KUBEBUILDER_ASSETS.
e2e: $(STAMP)
	bash hack/build-kube.sh >/dev/null
	bash hack/build-helm.sh >/dev/null
	bash hack/build-kstatus.sh >/dev/null
	$(BIN)/pytest -q tests/e2e

alerts-test:
	bash hack/promtool.sh test rules tests/alerts/alerts_test.yaml

test: $(STAMP) crds-check lint
	bash hack/build-kube.sh >/dev/null
	bash hack/build-helm.sh >/dev/null
	bash hack/build-kstatus.sh >/dev/null
	bash hack/promtool.sh --version >/dev/null
	$(BIN)/pytest tests

demo: $(STAMP)
	$(BIN)/python hack/demo.py

resilience: $(STAMP)  ## the longer fault scenario by hand (ROUNDS=5 by default)
	RESILIENCE_ROUNDS=$(or $(ROUNDS),5) $(BIN)/pytest -q tests/e2e/test_resilience_e2e.py tests/e2e/test_outage_e2e.py

bench: $(STAMP)
	$(BIN)/python hack/bench.py $(if $(BENCH_N),--n $(BENCH_N),) $(if $(BENCH_NETWORKS),--networks $(BENCH_NETWORKS),) \
		--latency-ms $(or $(BENCH_LATENCY_MS),0 30) --throttle $(or $(BENCH_THROTTLE),0.2) \
		--replicas $(or $(BENCH_REPLICAS),2) $(if $(BENCH_TIMERS),--timers,)

image:
	docker build -t stackery-operator:dev .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
