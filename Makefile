# Two entry points a new clone needs (see README): `make render` and `make test`.
# Both create the virtual environment when it is missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
OUT    ?= gitops-repo

CHECKOV_VENV := .venv-checkov

.PHONY: venv render validate config-docs lint test bench bench-cdk8s-setup checkov clean

$(PY): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(PY)

venv: $(PY)

## checkov (Kubernetes static analysis) in a venv of its own; tests/test_checkov.py runs it over every overlay.
$(CHECKOV_VENV)/bin/checkov: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $(CHECKOV_VENV)/bin/checkov

checkov: $(CHECKOV_VENV)/bin/checkov

## Render every stack's part of the example GitOps repository into $(OUT)/ and validate it.
render: $(PY)
	$(PY) -m gitops render --all --out $(OUT)
	$(PY) -m gitops validate $(OUT)

validate: $(PY)
	$(PY) -m gitops validate $(OUT)

## Regenerate Pulumi.yaml's config: section and docs/configuration.md from gitops/configschema.py.
config-docs: $(PY)
	$(PY) -m gitops config-schema --write

## Lint (ruff) and type checks (mypy); both take their settings from pyproject.toml.
## mypy keeps its incremental cache in .mypy_cache/: a run after a small change takes seconds.
lint: $(PY)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

## The test suite (parallel on both cores), after the lint; includes checkov over every overlay.
test: $(PY) $(CHECKOV_VENV)/bin/checkov lint
	$(PY) -m pytest -q -n 2

## Benchmarks (numbers for the issue notes; not part of the tests). bench_render.py also compares the
## render with a cdk8s synth of the same Deployments and Services once `make bench-cdk8s-setup` has run
## (needs node and npm; nothing else in the project does).
bench: $(PY)
	$(PY) benchmarks/bench_render.py
	$(PY) benchmarks/bench_program.py
	$(PY) benchmarks/bench_diff.py

## The pinned cdk8s packages of the render benchmark's comparison (benchmarks/cdk8s/package-lock.json).
bench-cdk8s-setup:
	npm ci --prefix benchmarks/cdk8s --no-audit --no-fund

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache $(CHECKOV_VENV)
